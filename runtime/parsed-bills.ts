import { createHash } from 'node:crypto';
import type { BillCheck } from '../domain/reconciliation/bill-format.ts';
import type { BillChannel, BillRow } from '../domain/reconciliation/bill-row.ts';
import { parseBill } from '../domain/reconciliation/parse-bill.ts';
import type { BillSource } from './reconciler.ts';

/** A channel day's bill as downloaded: its bytes and the SHA-1 the channel published beside them. */
export interface DownloadedBill {
  bytes: Uint8Array;
  /** Hex SHA-1 the channel states for the file (WeChat's `hash_value`). */
  sha1: string;
}

/** Why a bill cannot be reconciled: not to be had yet, altered on the way, or not adding up to its own totals. */
export class BillUnusableError extends Error {
  constructor(
    readonly channel: BillChannel,
    readonly day: string,
    readonly reason: 'not-ready' | 'hash-mismatch' | 'check-failed',
    detail: string,
    readonly check?: BillCheck,
  ) {
    super(`${channel} bill of ${day}: ${reason}: ${detail}`);
    this.name = 'BillUnusableError';
  }
}

/**
 * The reconciliation's bill source over the channels' real files: downloads a day's bill, checks
 * its SHA-1 against the published one, and streams it through the channel's parser. A bill whose
 * rows do not add up to its own summary throws at its end, so the run records nothing from it
 * (a partial or tampered file is not evidence): the run is simply repeated once a good file is had.
 */
export class ParsedBills implements BillSource {
  constructor(private readonly download: (channel: BillChannel, day: string) => Promise<DownloadedBill | { notReady: string }>) {}

  async *rows(channel: BillChannel, day: string): AsyncIterable<BillRow> {
    const bill = await this.download(channel, day);
    if ('notReady' in bill) throw new BillUnusableError(channel, day, 'not-ready', bill.notReady);
    const actual = createHash('sha1').update(bill.bytes).digest('hex');
    if (actual !== bill.sha1.toLowerCase()) throw new BillUnusableError(channel, day, 'hash-mismatch', `file SHA-1 ${actual}, published ${bill.sha1}`);
    for await (const event of parseBill(channel, [bill.bytes])) {
      if (event.type === 'row') yield event.row;
      else if (!event.check.ok) throw new BillUnusableError(channel, day, 'check-failed', event.check.problems.join('; '), event.check);
    }
  }
}
