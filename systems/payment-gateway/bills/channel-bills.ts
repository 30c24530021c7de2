import { createHash } from 'node:crypto';
import { strToU8, zipSync } from 'fflate';
import iconv from 'iconv-lite';
import { channelFeeFen, chinaDayBounds, chinaDayOf } from '../../../domain/reconciliation/bill-format.ts';
import type { BillChannel, BillRow } from '../../../domain/reconciliation/bill-row.ts';
import type { Clock, SimStore } from '../../sim/store.ts';
import { CHANNEL_ACCOUNTS, renderAlipay, renderCsv, renderWechat, type BillFact } from './render.ts';

/** Rows within this distance of midnight may be moved across it by an injection. */
export const MIDNIGHT_WINDOW_MS = 10 * 60_000;

/**
 * What can be planted into a day's bill: every discrepancy kind of DOMAIN.md (Reconciliation),
 * named after the discrepancy the reconciliation should find, and the two midnight moves.
 */
export type BillInjectionKind =
  | 'channel_missing' // a row of D left out of the bill
  | 'platform_missing' // a payment we never made, in the bill
  | 'platform_short_status' // a payment of ours pending/closed/failed that the bill says was paid
  | 'platform_over_status' // a row we count paid/refunded that the bill says failed
  | 'platform_short_amount' // the bill's amount is larger than ours by deltaFen
  | 'platform_over_amount' // the bill's amount is smaller than ours by deltaFen
  | 'fee_mismatch' // the bill's fee differs from the configured rate by deltaFen
  | 'midnight_next' // a row of D's last 10 minutes lands on D+1's bill
  | 'midnight_previous'; // a row of D+1's first 10 minutes lands on D's bill

export const BILL_INJECTION_KINDS: readonly BillInjectionKind[] = [
  'channel_missing', 'platform_missing', 'platform_short_status', 'platform_over_status', 'platform_short_amount',
  'platform_over_amount', 'fee_mismatch', 'midnight_next', 'midnight_previous',
];

/** A request to plant one discrepancy into a day's bill. */
export interface BillInjectionRequest {
  channel: BillChannel;
  /** The China-time day `YYYY-MM-DD` whose rows the injection concerns. */
  date: string;
  kind: BillInjectionKind;
  /** The row to change (merchant ref: payment number or refund-leg number); picked when absent. */
  merchantRef?: string;
  /** Only pick rows of this kind (payment or refund) when picking. */
  rowKind?: BillRow['kind'];
  /** How much an amount or fee is off, in fen (default 100 for amounts, 1 for fees). */
  deltaFen?: number;
  /** The amount of a planted `platform_missing` payment, in fen (default 1000). */
  amountFen?: number;
}

/** One discrepancy planted, as recorded: what a test checks the reconciliation found exactly. */
export interface PlantedDiscrepancy {
  id: number;
  channel: BillChannel;
  /** The day the injection concerns (for midnight moves, the day the row belonged to). */
  date: string;
  kind: BillInjectionKind;
  /** The bill the planted row is on (for midnight moves the neighbouring day); null when left out. */
  onBill: string | null;
  merchantRef: string;
  paymentNo: string;
  rowKind: BillRow['kind'];
  /** Our amount (or, for platform_missing, none: 0) and the bill's. */
  ourAmountFen: number;
  billAmountFen: number | null;
  /** The instant the row is printed with on the bill (ISO), when it is on one. */
  billAt: string | null;
}

/** A bill as the channel hands it over: the file's bytes, its name and type, its SHA-1. */
export interface BillFile {
  channel: BillChannel;
  date: string;
  fileName: string;
  contentType: string;
  bytes: Uint8Array;
  /** Hex SHA-1 of the bytes, as WeChat's `hash_value`. */
  sha1: string;
  rows: number;
}

/** Why a bill cannot be had (yet). */
export type BillRefusal =
  /** The day is not over in the simulator's clock (plus the configured delay): try later. */
  | { ok: false; code: 'STATEMENT_CREATING'; message: string }
  /** Not a day, or a day before the simulator's world began. */
  | { ok: false; code: 'INVALID_REQUEST'; message: string };

/** What a channel's bill day is made of and how late its bill is published. */
export interface BillSettings {
  /** How long after the China-time midnight ending day D its bills become ready, in ms (default 0). */
  readyAfterMs: number;
}

type PaymentRow = {
  payment_no: string; txn_no: string; merchant_id: string; channel: BillChannel; amount_fen: number; description: string;
  status: string; channel_trade_no: string | null; paid_at: string | null; created_at: string;
};
type RefundRow = {
  refund_no: string; payment_no: string; amount_fen: number; channel_refund_no: string; refunded_at: string;
  txn_no: string; merchant_id: string; description: string; channel_trade_no: string | null;
};
type InjectionRow = { id: number; channel: string; bill_date: string; kind: string; target: string; body: string };

/** The stored detail of an injection, resolved when it was made so bills stay deterministic. */
interface InjectionBody {
  planted: PlantedDiscrepancy;
  /** The row as planted (platform_missing, platform_short_status), or the change to apply. */
  fact?: BillFact;
  amountFen?: number;
  feeFen?: number;
  status?: BillRow['status'];
  at?: string;
  drop?: boolean;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS bill_injections (
  id INTEGER PRIMARY KEY, channel TEXT NOT NULL, bill_date TEXT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL,
  body TEXT NOT NULL, at TEXT NOT NULL)`;

const iso = (ms: number) => new Date(ms).toISOString();

/** Refused injection: nothing fits it on that day (no row near midnight, no unpaid payment, …). */
export class BillInjectionError extends RangeError {}

/**
 * The channels' daily bills, made from the gateway simulator's own payment and refund records:
 * day D (China time) holds the payments the channel captured on D (at their paid time) and the
 * refunds it paid back on D (at their settled time), each in the channel's published format.
 * Only succeeded rows are listed; a row that did not succeed appears only when planted. Planted
 * discrepancies are kept in the store (table `bill_injections`), each with its record.
 */
export class ChannelBills {
  private readonly stmts;
  private settings: BillSettings = { readyAfterMs: 0 };

  constructor(private readonly store: SimStore, private readonly clock: Clock) {
    const db = store.db;
    db.exec(SCHEMA);
    this.stmts = {
      payments: db.prepare<[string, string, string], PaymentRow>(
        `SELECT * FROM payments WHERE channel = ? AND status = 'succeeded' AND paid_at >= ? AND paid_at < ? ORDER BY paid_at, payment_no`),
      unpaid: db.prepare<[string, string, string], PaymentRow>(
        `SELECT * FROM payments WHERE channel = ? AND status != 'succeeded' AND created_at >= ? AND created_at < ? ORDER BY created_at, payment_no`),
      payment: db.prepare<[string], PaymentRow>('SELECT * FROM payments WHERE payment_no = ?'),
      refunds: db.prepare<[string, string, string], RefundRow>(
        `SELECT r.refund_no, r.payment_no, r.amount_fen, r.channel_refund_no, r.refunded_at, p.txn_no, p.merchant_id, p.description, p.channel_trade_no
         FROM refunds r JOIN payments p ON p.payment_no = r.payment_no
         WHERE p.channel = ? AND r.status = 'succeeded' AND r.refunded_at >= ? AND r.refunded_at < ? ORDER BY r.refunded_at, r.refund_no`),
      injections: db.prepare<[string], InjectionRow>('SELECT * FROM bill_injections WHERE channel = ? ORDER BY id'),
      all: db.prepare<[], InjectionRow>('SELECT * FROM bill_injections ORDER BY id'),
      insert: db.prepare<[string, string, string, string, string, string]>(
        'INSERT INTO bill_injections (channel, bill_date, kind, target, body, at) VALUES (?, ?, ?, ?, ?, ?)'),
      update: db.prepare<[string, number]>('UPDATE bill_injections SET body = ? WHERE id = ?'),
      clear: db.prepare<[]>('DELETE FROM bill_injections'),
    };
  }

  configure(settings: Partial<BillSettings>): BillSettings {
    this.settings = { ...this.settings, ...settings };
    return { ...this.settings };
  }

  /** The channel's rows of day D as recorded, before injections: payments then refunds, by time. */
  private recordedFacts(channel: BillChannel, fromMs: number, toMs: number): BillFact[] {
    const facts: BillFact[] = [];
    for (const p of this.stmts.payments.all(channel, iso(fromMs), iso(toMs))) facts.push(paymentFact(p, p.paid_at ?? p.created_at, 'succeeded'));
    for (const r of this.stmts.refunds.all(channel, iso(fromMs), iso(toMs))) {
      facts.push({
        channel, kind: 'refund', merchantRef: r.refund_no, paymentNo: r.payment_no, channelRef: r.channel_refund_no,
        channelTradeNo: r.channel_trade_no ?? '', merchantId: r.merchant_id, status: 'succeeded', amountFen: r.amount_fen,
        feeFen: channelFeeFen(channel, 'refund', r.amount_fen), at: r.refunded_at, txnNo: r.txn_no, description: r.description,
      });
    }
    return facts;
  }

  /**
   * The rows of channel's bill of day D, injections applied, ordered by time then merchant ref.
   * The same generator serves the HTTP bill and in-process runs.
   */
  facts(channel: BillChannel, date: string): BillFact[] {
    const { startMs, endMs } = chinaDayBounds(date);
    const byRef = new Map<string, BillFact>();
    for (const f of this.recordedFacts(channel, startMs - MIDNIGHT_WINDOW_MS, endMs + MIDNIGHT_WINDOW_MS)) byRef.set(f.merchantRef, f);
    const rows: BillFact[] = [];
    for (const inj of this.stmts.injections.all(channel)) {
      const body = JSON.parse(inj.body) as InjectionBody;
      if (body.fact) {
        if (Date.parse(body.fact.at) >= startMs && Date.parse(body.fact.at) < endMs) rows.push(body.fact);
        continue;
      }
      const f = byRef.get(inj.target);
      if (!f) continue;
      if (body.drop) byRef.delete(inj.target);
      else {
        const changed: BillFact = { ...f };
        if (body.amountFen !== undefined) changed.amountFen = body.amountFen;
        if (body.feeFen !== undefined) changed.feeFen = body.feeFen;
        if (body.status !== undefined) changed.status = body.status;
        if (body.at !== undefined) changed.at = body.at;
        byRef.set(inj.target, changed);
      }
    }
    for (const f of byRef.values()) if (Date.parse(f.at) >= startMs && Date.parse(f.at) < endMs) rows.push(f);
    return rows.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.merchantRef < b.merchantRef ? -1 : a.merchantRef > b.merchantRef ? 1 : 0));
  }

  /** The bill of day D is ready once D is over (China time) plus the configured delay, by the simulator's clock. */
  ready(date: string): boolean {
    return this.clock.now() >= chinaDayBounds(date).endMs + this.settings.readyAfterMs;
  }

  /**
   * The channel's bill file of day D, or why not: WeChat's bill (UTF-8 CSV), Alipay's zip of its
   * GBK CSV, the documented CSV of UnionPay and senseless.
   */
  bill(channel: BillChannel, date: string): { ok: true; file: BillFile } | BillRefusal {
    try {
      chinaDayBounds(date);
    } catch {
      return { ok: false, code: 'INVALID_REQUEST', message: `bill_date must be YYYY-MM-DD, got ${date}` };
    }
    if (!this.ready(date)) return { ok: false, code: 'STATEMENT_CREATING', message: `the ${channel} bill of ${date} is being generated; ask again after the day ends` };
    const facts = this.facts(channel, date);
    const compact = date.replaceAll('-', '');
    let bytes: Uint8Array;
    let fileName: string;
    let contentType: string;
    if (channel === 'wechat') {
      bytes = Buffer.from([...renderWechat(facts)].join(''), 'utf8');
      fileName = `wechat_tradebill_${compact}.csv`;
      contentType = 'text/csv; charset=utf-8';
    } else if (channel === 'alipay') {
      const csv = iconv.encode([...renderAlipay(date, facts)].join(''), 'gbk');
      const inner = `${CHANNEL_ACCOUNTS.alipayAccount}_${compact}_业务明细.csv`;
      bytes = zipSync({ [inner]: [csv, { level: 6 }] });
      fileName = `${CHANNEL_ACCOUNTS.alipayAccount}_${compact}.csv.zip`;
      contentType = 'application/zip';
    } else {
      bytes = Buffer.from([...renderCsv(channel, date, facts)].join(''), 'utf8');
      fileName = `${channel}_${compact}.csv`;
      contentType = 'text/csv; charset=utf-8';
    }
    const sha1 = createHash('sha1').update(bytes).digest('hex');
    return { ok: true, file: { channel, date, fileName, contentType, bytes, sha1, rows: facts.length } };
  }

  /** Every planted discrepancy, oldest first (optionally one channel's, one day's). */
  planted(filter: { channel?: BillChannel; date?: string } = {}): PlantedDiscrepancy[] {
    return this.stmts.all.all()
      .filter((r) => (filter.channel === undefined || r.channel === filter.channel) && (filter.date === undefined || r.bill_date === filter.date))
      .map((r) => (JSON.parse(r.body) as InjectionBody).planted);
  }

  /** Forgets every injection: bills are the records' again. */
  clearInjections(): void {
    this.stmts.clear.run();
  }

  /**
   * Plants one discrepancy into the bill of `req.date` (a midnight move also changes the
   * neighbouring day's bill). The row is resolved now: the named one, or the first eligible row of
   * the day not yet injected. Throws {@link BillInjectionError} when nothing fits.
   */
  inject(req: BillInjectionRequest): PlantedDiscrepancy {
    const { channel, date, kind } = req;
    const { startMs, endMs } = chinaDayBounds(date);
    if (!BILL_INJECTION_KINDS.includes(kind)) throw new BillInjectionError(`unknown injection kind ${String(kind)}`);
    const taken = new Set(this.stmts.injections.all(channel).map((r) => r.target));
    const pick = (candidates: BillFact[]): BillFact => {
      const ok = candidates.filter((f) => !taken.has(f.merchantRef) && (req.rowKind === undefined || f.kind === req.rowKind)
        && (req.merchantRef === undefined || f.merchantRef === req.merchantRef));
      const chosen = ok[0];
      if (!chosen) throw new BillInjectionError(`no ${req.rowKind ?? 'row'}${req.merchantRef ? ` ${req.merchantRef}` : ''} of ${channel} on ${date} fits ${kind}`);
      return chosen;
    };
    const ofDay = () => this.recordedFacts(channel, startMs, endMs);
    const id = this.nextId();
    const base = (f: BillFact, onBill: string | null, bill: Partial<BillFact>): PlantedDiscrepancy => ({
      id, channel, date, kind, onBill, merchantRef: f.merchantRef, paymentNo: f.paymentNo, rowKind: f.kind,
      ourAmountFen: f.amountFen, billAmountFen: onBill === null ? null : bill.amountFen ?? f.amountFen, billAt: onBill === null ? null : bill.at ?? f.at,
    });
    let body: InjectionBody;
    let target: string;
    switch (kind) {
      case 'channel_missing': {
        const f = pick(ofDay());
        target = f.merchantRef;
        body = { planted: base(f, null, {}), drop: true };
        break;
      }
      case 'platform_missing': {
        const amountFen = req.amountFen ?? 1000;
        const paymentNo = `SIMX${date.replaceAll('-', '')}${String(id).padStart(6, '0')}-P1`;
        const at = iso(startMs + 12 * 3600_000 + id * 1000);
        const fact: BillFact = {
          channel, kind: 'payment', merchantRef: paymentNo, paymentNo, channelRef: `X${paymentNo}`, channelTradeNo: `X${paymentNo}`,
          merchantId: 'M-UNKNOWN', status: 'succeeded', amountFen, feeFen: channelFeeFen(channel, 'payment', amountFen), at,
          txnNo: paymentNo.slice(0, -3), description: 'unknown',
        };
        target = paymentNo;
        body = { planted: { ...base(fact, date, {}), ourAmountFen: 0 }, fact };
        break;
      }
      case 'platform_short_status': {
        const unpaid = this.stmts.unpaid.all(channel, iso(startMs), iso(endMs)).map((p) => paymentFact(p, p.created_at, 'succeeded'));
        const f = pick(unpaid);
        target = f.merchantRef;
        body = { planted: base(f, date, {}), fact: f };
        break;
      }
      case 'platform_over_status': {
        const f = pick(ofDay());
        target = f.merchantRef;
        body = { planted: base(f, date, { status: 'failed' }), status: 'failed' };
        break;
      }
      case 'platform_short_amount':
      case 'platform_over_amount': {
        const delta = req.deltaFen ?? 100;
        const f = pick(ofDay().filter((c) => kind === 'platform_short_amount' || c.amountFen > delta));
        const amountFen = kind === 'platform_short_amount' ? f.amountFen + delta : f.amountFen - delta;
        target = f.merchantRef;
        body = { planted: base(f, date, { amountFen }), amountFen, feeFen: channelFeeFen(channel, f.kind, amountFen) };
        break;
      }
      case 'fee_mismatch': {
        const f = pick(ofDay());
        const feeFen = f.feeFen + (req.deltaFen ?? 1);
        target = f.merchantRef;
        body = { planted: base(f, date, {}), feeFen };
        break;
      }
      case 'midnight_next': {
        // Mirrored across midnight: 23:55:00 → 00:05:00, so the row stays within 10 minutes of it.
        const f = pick(this.recordedFacts(channel, endMs - MIDNIGHT_WINDOW_MS, endMs));
        const at = iso(2 * endMs - Date.parse(f.at));
        target = f.merchantRef;
        body = { planted: base(f, chinaDayOf(Date.parse(at)), { at }), at };
        break;
      }
      case 'midnight_previous': {
        const f = pick(this.recordedFacts(channel, endMs, endMs + MIDNIGHT_WINDOW_MS));
        const at = iso(2 * endMs - Date.parse(f.at) - 1000);
        target = f.merchantRef;
        body = { planted: base(f, date, { at }), at };
        break;
      }
    }
    this.stmts.insert.run(channel, date, kind, target, JSON.stringify(body), this.store.nowIso());
    return body.planted;
  }

  private nextId(): number {
    const row = this.store.db.prepare<[], { n: number | null }>('SELECT max(id) AS n FROM bill_injections').get();
    return (row?.n ?? 0) + 1;
  }
}

function paymentFact(p: PaymentRow, at: string, status: BillRow['status']): BillFact {
  return {
    channel: p.channel, kind: 'payment', merchantRef: p.payment_no, paymentNo: p.payment_no,
    channelRef: p.channel_trade_no ?? syntheticTradeNo(p.payment_no), channelTradeNo: p.channel_trade_no ?? syntheticTradeNo(p.payment_no),
    merchantId: p.merchant_id, status, amountFen: p.amount_fen, feeFen: channelFeeFen(p.channel, 'payment', p.amount_fen), at,
    txnNo: p.txn_no, description: p.description,
  };
}

/** A payment the channel says it captured though it never told us: it still has a trade number. */
function syntheticTradeNo(paymentNo: string): string {
  return `S${createHash('sha256').update(paymentNo).digest('hex').slice(0, 27)}`;
}

