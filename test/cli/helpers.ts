import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import type { CliIo, Progress } from '../../bin/commands/cli-io.ts';
import { HttpSource } from '../../bin/commands/http-source.ts';
import type { TradeSource } from '../../bin/commands/source.ts';
import { StoreSource } from '../../bin/commands/store-source.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { DATASET_PATH, DEMO_KEY, FUEL_SALE, type Harness } from '../helpers/harness.ts';

/** A CliIo writing into strings; `progress` records what long work reported. */
export interface CapturedIo extends CliIo {
  stdout(): string;
  stderr(): string;
  progressed: { label: string; steps: number }[];
}

export function captureIo(now: () => number = () => Date.now()): CapturedIo {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  const progressed: { label: string; steps: number }[] = [];
  return {
    out,
    err,
    now,
    progress(label): Progress {
      const entry = { label, steps: 0 };
      progressed.push(entry);
      return { increment: (by = 1) => void (entry.steps += by), setTotal: () => undefined, stop: () => undefined };
    },
    stdout: () => stdout,
    stderr: () => stderr,
    progressed,
  };
}

/** Both ways a command reaches transactions: the server's API and the store file directly. */
export function sources(h: Harness): { mode: string; open: () => TradeSource }[] {
  return [
    { mode: 'server', open: () => new HttpSource(h.url, DEMO_KEY) },
    { mode: 'store', open: () => new StoreSource({ db: join(h.dir, 'trade.db'), simDb: join(h.dir, 'sim.db'), data: DATASET_PATH }, 20) },
  ];
}

/** Removes a transaction's timer rows, as a lost write or a bad manual fix would. */
export function deleteTimerRows(dir: string, txnNo: string): number {
  const db = new Database(join(dir, 'trade.db'));
  try {
    return db.prepare('DELETE FROM timers WHERE txn_no = ?').run(txnNo).changes;
  } finally {
    db.close();
  }
}

/** A stored-value sale of 300 yuan for U4, paid; returns its view once completed. */
export async function storedValueSale(h: Harness): Promise<TransactionView> {
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, userId: 'U4', paymentMethods: ['stored_value'] });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-stored_value' });
  const paid = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/payments`, { legs: [{ method: 'stored_value', cardNo: 'C1', amount: ordered.body.payableAmount }] });
  if (paid.status !== 200) throw new Error(`payment failed: ${JSON.stringify(paid.body)}`);
  return paid.body;
}

/** A wechat sale left `paying`: the customer paid at the gateway but its callback was dropped. */
export async function payingWithLostCallback(h: Harness): Promise<TransactionView> {
  h.tc.sims!.gateway.configureCallbacks({ dropCallbacks: true });
  const started = await h.api<TransactionView>('POST', '/v1/transactions', { ...FUEL_SALE, paymentMethods: ['wechat'] });
  const ordered = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/order`, { quoteId: started.body.quote.quoteId, comboId: 'c-wechat' });
  const paying = await h.api<TransactionView>('POST', `/v1/transactions/${started.body.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.body.payableAmount }] });
  if (paying.status !== 202) throw new Error(`payment did not wait: ${JSON.stringify(paying.body)}`);
  const paid = await h.tc.sims!.gateway.pay(paying.body.legs[0]!.paymentNo);
  if (!paid.ok) throw new Error('the customer could not pay');
  return paying.body;
}
