import type { OrderQueryParams, OrderView } from '../../runtime/order-queries.ts';
import type { TaskView, TransactionView } from '../../runtime/view.ts';
import type { OrderSummaryRow } from '../../storage/types.ts';

export type { TaskView };

/** One row of `trade list`: what the admin list returns. */
export interface ListItem {
  txnNo: string;
  state: string;
  /** ISO-8601. */
  updatedAt: string;
}

export interface ListFilter {
  state?: string;
  needsAttention?: boolean;
  limit: number;
  cursor?: string;
}


/** A transaction with its post-payment tasks (the shape of `GET /v1/transactions/{txnNo}`). */
export type TransactionDetail = TransactionView & { tasks: TaskView[] };

/** One journal entry, times as ISO-8601 (the shape of the journal endpoint). */
export interface JournalLine {
  seq: number;
  at: string;
  actor: string;
  event: string;
  data: Record<string, unknown>;
  from: unknown;
  to: unknown;
}

/** A transition on the live event stream (`GET /admin/events`, one `data:` line each). */
export interface LiveTransition {
  type: 'transition';
  txnNo: string;
  actor: string;
  event: string;
  from: unknown;
  to: unknown;
  at: string;
}

/**
 * The stream could not resume where a dropped connection left it (`GapMessage` of the event
 * stream): transitions after `lastEventId` may be missing; the journals keep them.
 */
export interface LiveGap {
  type: 'gap';
  lastEventId: string;
  reason: 'trimmed' | 'unknown';
  at: string;
}

/** The connection to the stream dropped; the source is reconnecting to resume where it was. */
export interface LiveDisconnect {
  type: 'disconnected';
  /** What ended it, for the operator. */
  reason: string;
}

/** What a live source yields: transitions, and what an operator must hear about the stream itself. */
export type LiveEvent = LiveTransition | LiveGap | LiveDisconnect;

/**
 * What the `trade` commands read and change, whether through a running server's API or
 * directly in a store: the commands are written once against this.
 */
export interface TradeSource {
  /** What this source is, for messages (`http://127.0.0.1:3000`, `data/trade.db`). */
  readonly name: string;
  list(filter: ListFilter): Promise<{ items: ListItem[]; nextCursor: string | null }>;
  /** The transaction and its tasks; throws NOT_FOUND when there is none. */
  transaction(txnNo: string): Promise<TransactionDetail>;
  journal(txnNo: string): Promise<JournalLine[]>;
  /** Rehydrates and re-drives the transaction (due timers, due tasks); returns it afterwards. */
  nudge(txnNo: string): Promise<TransactionDetail>;
  /** Manual retry of a dead task; returns the task afterwards. */
  retry(txnNo: string, task: string): Promise<TaskView>;
  cancel(txnNo: string, reason: string | undefined): Promise<TransactionView>;
  /** One page of orders, hot store and archive together, newest first (`GET /admin/orders`). */
  orders(query: OrderQueryParams, limit: number, cursor: string | null): Promise<{ items: OrderView[]; nextCursor: string | null }>;
  /** Counts and sums of orders by `groupBy` (`GET /admin/orders/summary`). */
  summary(query: OrderQueryParams, groupBy: string | undefined): Promise<{ groups: OrderSummaryRow[] }>;
  /**
   * Live transitions until `signal` aborts. `onOpen` is called once the source is listening, so
   * a caller knows that transitions from then on will be seen. A source that can lose its
   * connection reconnects by itself and resumes where it was, saying so (`disconnected`, and
   * `gap` when it could not resume exactly).
   */
  transitions(signal: AbortSignal, onOpen: () => void): AsyncIterable<LiveEvent>;
  close(): Promise<void>;
}
