import type { DiscrepancyStatus, StoredDiscrepancy } from '../types.ts';

/** A discrepancy's row as both backends' `recon_discrepancies` tables hold it. */
export type DiscrepancySql = { id: string; channel: string; day: string; kind: string; ref: string; txn_no: string | null; evidence: string; status: DiscrepancyStatus; resolution: string | null; found_at: number };

/** The row of the tables as the records' type (SQLite and PostgreSQL have the same columns). */
export function discrepancyOf(r: DiscrepancySql): StoredDiscrepancy {
  return { id: r.id, channel: r.channel, day: r.day, kind: r.kind, ref: r.ref, txnNo: r.txn_no, evidence: JSON.parse(r.evidence), status: r.status, resolution: r.resolution === null ? null : JSON.parse(r.resolution), foundAt: Number(r.found_at) };
}
