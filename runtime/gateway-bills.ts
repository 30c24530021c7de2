import { channelFeeFen } from '../domain/reconciliation/bill-format.ts';
import type { BillChannel, BillRow } from '../domain/reconciliation/bill-row.ts';
import type { ChannelBills } from '../systems/payment-gateway/bills/channel-bills.ts';
import type { DownloadedBill } from './parsed-bills.ts';

/** Fetches a channel day's bill file and its published SHA-1, or says it is not ready yet. */
export type BillDownload = (channel: BillChannel, day: string) => Promise<DownloadedBill | { notReady: string }>;

/** Where the bills are downloaded from in a deployment on HTTP connectors: the gateway's origin. */
export interface BillDownloadConfig {
  /** The origin serving `/v3/bill/tradebill` and `/sim/bills/…` (a `trade sim`), e.g. `http://127.0.0.1:4100`. */
  origin: string;
  /** `TRADE_SIM_ADMIN_TOKEN`, when the simulator's `/sim` routes need it. */
  adminToken?: string;
  /** Deadline of one download, ms. */
  timeoutMs: number;
}

/** The fee the configured rate (FEE_RATE_BP) gives a bill row: what `fee_mismatch` compares against. */
export function configuredFee(row: Pick<BillRow, 'channel' | 'kind' | 'amountFen'>): number {
  return channelFeeFen(row.channel, row.kind, row.amountFen);
}

/** The in-process simulators' bills (`npm start`, tests): the same bytes and SHA-1 the HTTP routes serve. */
export function inProcessBillDownload(bills: ChannelBills): BillDownload {
  return async (channel, day) => {
    const got = bills.bill(channel, day);
    if (!got.ok) return { notReady: `${got.code}: ${got.message}` };
    return { bytes: got.file.bytes, sha1: got.file.sha1 };
  };
}

/** The payment gateway's origin from its connector's base URL (`…/payment-gateway` under a `trade sim`). */
export function gatewayOrigin(paymentGatewayUrl: string): string {
  return paymentGatewayUrl.replace(/\/+$/, '').replace(/\/payment-gateway$/, '');
}

/**
 * Bills over HTTP: WeChat's through its v3 API (`GET /v3/bill/tradebill` → `hash_value` and
 * `download_url`; 400 `STATEMENT_CREATING` while the bill is being made), the other channels'
 * from the simulator's `/sim/bills/{channel}/{date}` (SHA-1 in `x-bill-sha1`; 409 while not ready).
 * A transport fault or any other refusal throws: the run fails and is tried again later.
 */
export function httpBillDownload(config: BillDownloadConfig): BillDownload {
  const origin = config.origin.replace(/\/+$/, '');
  const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers, signal: AbortSignal.timeout(config.timeoutMs) });
  return async (channel, day) => {
    if (channel === 'wechat') {
      const asked = await get(`${origin}/v3/bill/tradebill?bill_date=${encodeURIComponent(day)}&bill_type=ALL`);
      const answer = (await asked.json()) as { code?: string; message?: string; hash_value?: string; download_url?: string };
      if (asked.status === 400 && answer.code === 'STATEMENT_CREATING') return { notReady: `STATEMENT_CREATING: ${answer.message ?? ''}` };
      if (!asked.ok || !answer.download_url || !answer.hash_value) throw new Error(`wechat bill of ${day}: HTTP ${asked.status} ${answer.code ?? ''} ${answer.message ?? ''}`);
      const file = await get(answer.download_url);
      if (!file.ok) throw new Error(`wechat bill file of ${day}: HTTP ${file.status}`);
      return { bytes: new Uint8Array(await file.arrayBuffer()), sha1: answer.hash_value };
    }
    const res = await get(`${origin}/sim/bills/${channel}/${encodeURIComponent(day)}`, config.adminToken ? { authorization: `Bearer ${config.adminToken}` } : {});
    if (res.status === 409) {
      const body = (await res.json()) as { error?: { code?: string; message?: string } };
      return { notReady: `${body.error?.code ?? 'STATEMENT_CREATING'}: ${body.error?.message ?? ''}` };
    }
    const sha1 = res.headers.get('x-bill-sha1');
    if (!res.ok || !sha1) throw new Error(`${channel} bill of ${day}: HTTP ${res.status}`);
    return { bytes: new Uint8Array(await res.arrayBuffer()), sha1 };
  };
}
