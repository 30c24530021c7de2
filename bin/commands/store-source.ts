import { setTimeout as sleep } from 'node:timers/promises';
import { TradeError } from '../../domain/errors.ts';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import { storedView } from '../../runtime/stored-snapshot.ts';
import { TransactionReads } from '../../runtime/transaction-reads.ts';
import { groupByOf, OrderQueries, orderQueryOf, orderView, type OrderQueryParams, type OrderView } from '../../runtime/order-queries.ts';
import type { OrderSummaryRow } from '../../storage/types.ts';
import { taskView, type TransactionView } from '../../runtime/view.ts';
import type { Storage } from '../../storage/types.ts';
import { openRuntime, openStorage, type StoreTarget } from '../store-access.ts';
import { type JournalLine, type ListFilter, type ListItem, type LiveTransition, type TaskView, type TradeSource, type TransactionDetail } from './source.ts';

/** How long a changing command waits for the work it started to settle in the store. */
const SETTLE_MS = 15_000;

/**
 * The `trade` commands directly against a store. Reads go to the store; commands that change a
 * transaction build the runtime over the same store (and the simulators' store), so the change
 * goes through the same host, one writer and persist-before-acknowledge as on the server.
 */
export class StoreSource implements TradeSource {
  readonly name: string;
  private readonly storage: Storage;
  /** Reads find archived transactions too (hot store first). */
  private readonly reads: TransactionReads;
  private readonly orderQueries: OrderQueries;
  private tc: TradeCenter | null = null;

  constructor(
    private readonly target: StoreTarget,
    pollMs = 500,
  ) {
    this.storage = openStorage(target, { feedPollMs: pollMs });
    this.reads = new TransactionReads(this.storage, this.storage.archive);
    this.orderQueries = new OrderQueries(this.storage, this.storage.archive);
    this.name = target.db ?? target.redis ?? 'store';
  }

  private runtime(): TradeCenter {
    this.tc ??= openRuntime(this.target);
    return this.tc;
  }

  async list(filter: ListFilter): Promise<{ items: ListItem[]; nextCursor: string | null }> {
    const rows = await this.storage.admin.listTransactions({
      ...(filter.state ? { state: filter.state } : {}),
      ...(filter.needsAttention ? { needsAttention: true } : {}),
      limit: filter.limit,
      ...(filter.cursor ? { before: filter.cursor } : {}),
    });
    return {
      items: rows.map((r) => ({ txnNo: r.txnNo, state: r.state, updatedAt: new Date(r.updatedAt).toISOString() })),
      nextCursor: rows.length === filter.limit ? (rows.at(-1)?.txnNo ?? null) : null,
    };
  }

  async transaction(txnNo: string): Promise<TransactionDetail> {
    const record = await this.reads.record(txnNo);
    if (!record) throw new TradeError('NOT_FOUND', `no transaction ${txnNo}`);
    // Brought to this version's machines first; one a newer version wrote is read from its stored data, or refused clearly.
    const view = storedView(record);
    return { ...view, tasks: (await this.reads.tasks(txnNo)).map(taskView) };
  }

  async journal(txnNo: string): Promise<JournalLine[]> {
    return (await this.reads.journal(txnNo)).map((e) => ({ ...e, at: new Date(e.at).toISOString() }));
  }

  /** Every merchant's orders: direct access to the store is the operator's own. */
  async orders(query: OrderQueryParams, limit: number, cursor: string | null): Promise<{ items: OrderView[]; nextCursor: string | null }> {
    const page = await this.orderQueries.search(orderQueryOf(query, null), limit, cursor);
    return { items: page.rows.map(orderView), nextCursor: page.nextCursor };
  }

  async summary(query: OrderQueryParams, groupBy: string | undefined): Promise<{ groups: OrderSummaryRow[] }> {
    return { groups: await this.orderQueries.summary(orderQueryOf(query, null), groupByOf(groupBy)) };
  }

  async nudge(txnNo: string): Promise<TransactionDetail> {
    const tc = this.runtime();
    const view = await tc.host.nudge(txnNo);
    if (!view) throw new TradeError('NOT_FOUND', `no transaction ${txnNo}`);
    await tc.tasks.runDue();
    await this.settled(txnNo);
    return this.transaction(txnNo);
  }

  async retry(txnNo: string, task: string): Promise<TaskView> {
    const tc = this.runtime();
    const done = await tc.tasks.retry(txnNo, task);
    if (!done) throw new TradeError('INVALID_STATE', `task ${task} of ${txnNo} is not dead (or does not exist)`);
    await this.settled(txnNo);
    return taskView(done);
  }

  async cancel(txnNo: string, reason: string | undefined): Promise<TransactionView> {
    const tc = this.runtime();
    const { view, refusal } = await tc.host.command(txnNo, (at, requestId) => ({ type: 'CANCEL', requestId, at, reason: reason ?? 'cancelled by an operator' }));
    if (refusal) throw TradeError.from(refusal);
    await this.settled(txnNo);
    return view;
  }

  /** Follows the storage's transition feed: every process's saves, from now on. */
  async *transitions(signal: AbortSignal, onOpen: () => void): AsyncIterable<LiveTransition> {
    const feed = await this.storage.feed.follow(signal);
    onOpen();
    for await (const e of feed) yield { type: 'transition', txnNo: e.txnNo, actor: e.actor, event: e.event, from: e.from, to: e.to, at: new Date(e.at).toISOString() };
  }

  /** Waits until nothing of the transaction is running or unsaved (calls started by the change finish first). */
  private async settled(txnNo: string): Promise<void> {
    const tc = this.runtime();
    const deadline = Date.now() + SETTLE_MS;
    for (;;) {
      await tc.host.settle();
      const record = await tc.storage.snapshots.load(txnNo);
      if (!record?.working || Date.now() > deadline) return;
      await sleep(50);
    }
  }

  async close(): Promise<void> {
    if (this.tc) await this.tc.close();
    await this.storage.close();
  }
}
