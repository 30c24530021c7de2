import type { Dataset } from '../systems/sim/index.ts';
import type { View, KeyedRequest } from './workload.ts';
import type { CallRecord, ResponseRecord } from './world.ts';
import type Database from 'better-sqlite3';

/** One broken rule, about one transaction where it is about one. */
export interface Violation {
  invariant: InvariantName;
  txnNo: string | null;
  message: string;
  at: number;
}

export type InvariantName =
  | 'captured-equals-payable'
  | 'nets-to-zero'
  | 'effect-once'
  | 'refund-exceeds-paid'
  | 'refunds-match-platform'
  | 'locks-settled'
  | 'card-balance'
  | 'points-coupons-returned'
  | 'final'
  | 'keyed-answerable'
  | 'no-5xx'
  | 'money-conserved'
  | 'shadow-inert'
  | 'shadow-recorded'
  | 'os-synced';

/** What the simulators' own ledgers say one transaction's money did. */
export interface Ledger {
  /** Captured: gateway payments succeeded + card locks confirmed. */
  capturedFen: number;
  /** Given back by refunds (numbers `R…`): gateway refunds succeeded + card credits for a refund. */
  refundedFen: number;
  /** Given back without a refund (captured money of a sale that did not happen). */
  givenBackFen: number;
  /** A payment captured at another amount than asked (a person settles it, by design). */
  otherAmount: boolean;
  /** The channel captured a payment after it was closed (a late capture the platform must give back). */
  afterClose: boolean;
}

type Row = Record<string, string | number | null>;

/** What {@link InvariantChecker.osSynced} reads of a transaction's final view. */
export type OsSyncedView = Pick<View, 'orderNo' | 'paidAt' | 'state' | 'stationId'> & { refunds: readonly { status: string }[] };

/**
 * The invariant checker: reads the simulators' ledgers (SQL on their store, never the
 * platform's word for it) and sets them against the platform's views. {@link always} holds at
 * every moment of a run; {@link atEnd} once faults have stopped and time ran on until everything
 * was final.
 */
export class InvariantChecker {
  constructor(private readonly db: Database.Database, private readonly dataset: Dataset, private readonly calls: readonly CallRecord[]) {}

  /** Rules no moment of a run may break, faults and crashes included. */
  always(now: number): Violation[] {
    return [...this.effectsOnce(now), ...this.refundCaps(now), ...this.cardBalances(now)];
  }

  /** Every transaction's ledger, by txnNo. */
  ledgers(): Map<string, Ledger> {
    const out = new Map<string, Ledger>();
    const of = (txnNo: string) => {
      let l = out.get(txnNo);
      if (!l) out.set(txnNo, (l = { capturedFen: 0, refundedFen: 0, givenBackFen: 0, otherAmount: false, afterClose: false }));
      return l;
    };
    for (const p of this.rows("SELECT txn_no, amount_fen FROM payments WHERE status = 'succeeded'")) of(String(p.txn_no)).capturedFen += Number(p.amount_fen);
    for (const r of this.rows("SELECT r.refund_no, r.amount_fen, p.txn_no FROM refunds r JOIN payments p ON p.payment_no = r.payment_no WHERE r.status = 'succeeded'")) {
      const l = of(String(r.txn_no));
      if (String(r.refund_no).startsWith('R')) l.refundedFen += Number(r.amount_fen);
      else l.givenBackFen += Number(r.amount_fen);
    }
    for (const e of this.rows("SELECT key, detail FROM effects WHERE system = 'paymentGateway' AND detail IN ('other-amount', 'after-close')")) {
      const txnNo = txnNoIn(String(e.key));
      if (txnNo && e.detail === 'other-amount') of(txnNo).otherAmount = true;
      if (txnNo && e.detail === 'after-close') of(txnNo).afterClose = true;
    }
    for (const lock of this.rows("SELECT lock_key, amount_fen FROM card_locks WHERE status = 'confirmed'")) {
      const txnNo = txnNoIn(String(lock.lock_key));
      if (txnNo) of(txnNo).capturedFen += Number(lock.amount_fen);
    }
    for (const c of this.cardMoves()) {
      if (c.reason !== 'refund') continue;
      const l = of(c.txnNo);
      if (c.creditNo.startsWith('R')) l.refundedFen += c.amountFen;
      else l.givenBackFen += c.amountFen;
    }
    return out;
  }

  /**
   * The rules of a run that has come to rest: every transaction's money against its state and
   * refunds, locks, points and coupons, finality, and the platform's answers.
   */
  atEnd(now: number, views: Map<string, View | null>, keyed: readonly KeyedRequest[], replays: Map<string, { status: number; code: string | null; stillWorking: boolean }>, failures: readonly ResponseRecord[]): Violation[] {
    const v: Violation[] = [...this.always(now)];
    const add = (invariant: InvariantName, txnNo: string | null, message: string) => v.push({ invariant, txnNo, message, at: now });
    const ledgers = this.ledgers();
    let ledgerNet = 0;
    let platformNet = 0;
    /** Completed sales whose ledgers net another amount than the platform says: named in money-conserved. */
    const unbalanced: string[] = [];
    for (const [, l] of ledgers) ledgerNet += l.capturedFen - l.refundedFen - l.givenBackFen;
    for (const [txnNo, view] of views) {
      const l = ledgers.get(txnNo) ?? { capturedFen: 0, refundedFen: 0, givenBackFen: 0, otherAmount: false, afterClose: false };
      if (!view) {
        if (l.capturedFen - l.refundedFen - l.givenBackFen !== 0) add('nets-to-zero', txnNo, `the platform has no transaction ${txnNo}, yet ${l.capturedFen - l.refundedFen - l.givenBackFen} fen of it stay captured`);
        continue;
      }
      const final = ['completed', 'cancelled', 'failed'].includes(view.state) || (view.state === 'quoted' && !view.orderNo);
      const refundsOpen = view.refunds.filter((r) => r.status === 'requested' || r.status === 'processing');
      const tasksOpen = (view.tasks ?? []).filter((t) => t.status !== 'done');
      if (!final || refundsOpen.length || tasksOpen.length) {
        add('final', txnNo, `${view.state}${refundsOpen.length ? `, refunds ${refundsOpen.map((r) => `${r.refundNo} ${r.status}`).join(', ')}` : ''}${tasksOpen.length ? `, tasks ${tasksOpen.map((t) => `${t.task} ${t.status}`).join(', ')}` : ''}`);
      }
      if (l.otherAmount) continue; // captured at another amount: a person's case by design (issue 15)
      if (view.state === 'completed') {
        platformNet += view.payableAmount - view.refundedAmount;
        const net = l.capturedFen - l.refundedFen - l.givenBackFen;
        if (net !== view.payableAmount - view.refundedAmount) unbalanced.push(`${txnNo} (ledgers ${net}, platform ${view.payableAmount - view.refundedAmount})`);
        if (l.capturedFen - l.givenBackFen !== view.payableAmount) add('captured-equals-payable', txnNo, `captured ${l.capturedFen} fen (given back ${l.givenBackFen}) for a payable of ${view.payableAmount}`);
        if (view.refundedAmount > view.payableAmount) add('refund-exceeds-paid', txnNo, `refunded ${view.refundedAmount} of ${view.payableAmount}`);
        if (!refundsOpen.length && l.refundedFen !== view.refundedAmount && !this.isTopUp(view)) {
          const attention = view.refunds.filter((r) => r.status === 'attention').map((r) => r.refundNo);
          add('refunds-match-platform', txnNo, `the gateway and the cards refunded ${l.refundedFen} fen, the platform's refundedAmount is ${view.refundedAmount}${attention.length ? ` (refunds waiting for a person: ${attention.join(', ')})` : ''}`);
        }
      } else if (final) {
        const net = l.capturedFen - l.refundedFen - l.givenBackFen;
        if (net !== 0) add('nets-to-zero', txnNo, `${view.state}, yet ${net} fen stay captured (captured ${l.capturedFen}, refunded ${l.refundedFen}, given back ${l.givenBackFen})${l.afterClose ? '; the channel captured it after the payment was closed' : ''}`);
      }
    }
    v.push(...this.locksSettled(now, views), ...this.pointsAndCoupons(now, views));
    if (ledgerNet !== platformNet + this.otherAmountNet(ledgers)) add('money-conserved', null, `the ledgers hold ${ledgerNet} fen net, the platform's completed sales ${platformNet}${unbalanced.length ? `; completed sales that differ: ${unbalanced.slice(0, 5).join(', ')}` : ''}`);
    for (const k of keyed) {
      const replayed = replays.get(k.key);
      if (replayed === undefined) continue;
      // A 503 CORE_SYSTEM_UNAVAILABLE that is the machine's refusal (a core system's outage failed
      // the sale) is an outcome; "still working" at the end, or any other 5xx, is not.
      const unanswered = replayed.status >= 500 && (replayed.stillWorking || replayed.code !== 'CORE_SYSTEM_UNAVAILABLE');
      if (replayed.code === 'REQUEST_IN_PROGRESS' || unanswered || replayed.status === 0) add('keyed-answerable', txnNoIn(k.url), `${k.url} under key ${k.key} answers ${replayed.status} ${replayed.code ?? ''} at the end (first answer ${k.status})`);
      // A 503 stores nothing (the key is let go so that the channel may try again): the replay is a first run.
      else if (k.status !== null && k.status !== 503 && replayed.status !== k.status) add('keyed-answerable', txnNoIn(k.url), `${k.url} under key ${k.key} answered ${k.status} first and ${replayed.status} on replay`);
    }
    for (const f of failures) {
      if (f.status !== 503 || f.code !== 'CORE_SYSTEM_UNAVAILABLE') add('no-5xx', txnNoIn(f.url), `${f.method} ${f.url} answered ${f.status} ${f.code ?? ''}`);
    }
    return v;
  }

  /**
   * Shadow quotes (issue 20): no downstream call made on behalf of one carries a transaction or a
   * call key (every side effect is keyed `txnNo:step`, DESIGN.md rule 3, so an unkeyed call is a
   * read: nothing locked, charged or ordered), and every one the platform acknowledged is stored
   * (persist before acknowledge, crashes included).
   */
  shadowQuotes(now: number, acknowledged: readonly string[], stored: ReadonlySet<string>): Violation[] {
    const out: Violation[] = [];
    for (const c of this.calls) {
      if (!c.forShadow || (c.key === null && c.txnNo === null)) continue;
      out.push({ invariant: 'shadow-inert', txnNo: c.txnNo, message: `${c.system}.${c.verb} under key ${c.key ?? '(none)'} on behalf of a shadow quote (${c.outcome})`, at: now });
    }
    for (const id of new Set(acknowledged)) {
      if (!stored.has(id)) out.push({ invariant: 'shadow-recorded', txnNo: null, message: `shadow quote ${id} was acknowledged and is not stored`, at: now });
    }
    return out;
  }

  /**
   * The OS order sync (issue 20): once time ran on, OS holds every order's events once, numbered
   * 1…n in order, and they say what happened to the sale (DOMAIN.md, OS and history): placed;
   * then paid, or cancelled when it ended unpaid; one refunded per refund that succeeded. Read
   * from the OS simulator's own records, set against the platform's final views.
   */
  osSynced(now: number, views: ReadonlyMap<string, OsSyncedView | null>): Violation[] {
    const out: Violation[] = [];
    const held = new Map<string, { txnNo: string; eventSeq: number; kind: string; stationId: string }[]>();
    const rows = this.db.prepare<[], { body: string }>("SELECT body FROM records WHERE system = 'os' AND kind = 'event' ORDER BY rowid").all();
    for (const r of rows) {
      const e = JSON.parse(r.body) as { txnNo: string; orderNo: string; eventSeq: number; kind: string; stationId: string };
      held.set(e.orderNo, [...(held.get(e.orderNo) ?? []), e]);
    }
    const expected = new Set<string>();
    for (const [txnNo, view] of views) {
      if (!view?.orderNo) continue;
      expected.add(view.orderNo);
      const kinds = ['placed', ...(view.paidAt !== null ? ['paid'] : view.state === 'cancelled' || view.state === 'failed' ? ['cancelled'] : []), ...view.refunds.filter((r) => r.status === 'succeeded').map(() => 'refunded')];
      const got = [...(held.get(view.orderNo) ?? [])].sort((a, b) => a.eventSeq - b.eventSeq);
      const said = got.map((e) => `${e.eventSeq}:${e.kind}`).join(' ');
      const numbered = got.every((e, i) => e.eventSeq === i + 1);
      const sameKinds = got.length === kinds.length && got[0]?.kind === 'placed' && [...got.map((e) => e.kind)].sort().join() === [...kinds].sort().join();
      if (!numbered || !sameKinds) out.push({ invariant: 'os-synced', txnNo, message: `order ${view.orderNo} (${view.state}): OS holds [${said}], the sale says [${kinds.join(' ')}]`, at: now });
      if (got.some((e) => e.stationId !== view.stationId)) out.push({ invariant: 'os-synced', txnNo, message: `order ${view.orderNo} of ${view.stationId}: OS holds events of it at another station`, at: now });
    }
    for (const [orderNo, events] of held) {
      if (expected.has(orderNo)) continue;
      const txnNo = events[0]!.txnNo;
      out.push({ invariant: 'os-synced', txnNo, message: `OS holds [${events.map((e) => `${e.eventSeq}:${e.kind}`).join(' ')}] of order ${orderNo}, which no sale's view has (${txnNo}: ${views.has(txnNo) ? `view ${views.get(txnNo)?.state ?? 'null'}, order ${views.get(txnNo)?.orderNo ?? 'none'}` : 'no view read'})`, at: now });
    }
    return out;
  }

  /** Card money in and out by credit/debit number: the ledger's effects, with the amounts the calls asked for. */
  cardMoves(): { txnNo: string; verb: 'credit' | 'debit'; cardNo: string; creditNo: string; amountFen: number; reason: string }[] {
    const requests = new Map<string, { cardNo: string; creditNo?: string; debitNo?: string; amountFen: number; reason: string }>();
    for (const c of this.calls) if (c.system === 'storedValue' && (c.verb === 'credit' || c.verb === 'debit') && c.key) requests.set(`${c.verb} ${c.key}`, c.request as never);
    const out = [];
    for (const e of this.rows("SELECT verb, key FROM effects WHERE system = 'storedValue' AND verb IN ('credit', 'debit') ORDER BY id")) {
      const req = requests.get(`${String(e.verb)} ${String(e.key)}`);
      const txnNo = txnNoIn(String(e.key));
      if (!req || !txnNo) continue;
      out.push({ txnNo, verb: e.verb as 'credit' | 'debit', cardNo: req.cardNo, creditNo: req.creditNo ?? req.debitNo ?? '', amountFen: req.amountFen, reason: req.reason });
    }
    return out;
  }

  private otherAmountNet(ledgers: Map<string, Ledger>): number {
    let net = 0;
    for (const l of ledgers.values()) if (l.otherAmount) net += l.capturedFen - l.refundedFen - l.givenBackFen;
    return net;
  }

  private isTopUp(view: View): boolean {
    return (view.quote as { lines: { type: string }[] }).lines.some((l) => l.type === 'stored_value');
  }

  private effectsOnce(now: number): Violation[] {
    // A refund asked again after the channel failed it is a new attempt of the same refund (`retry`).
    const dupes = this.rows(
      `SELECT system, verb, key, count(*) AS n FROM effects WHERE detail IS NULL OR detail != 'retry'
       GROUP BY system, verb, key HAVING count(*) > 1 AND verb NOT IN ('settleRefund')`,
    );
    return dupes.map((d) => ({ invariant: 'effect-once', txnNo: txnNoIn(String(d.key)), message: `${String(d.system)}.${String(d.verb)} applied ${String(d.n)} times under key ${String(d.key)}`, at: now }));
  }

  private refundCaps(now: number): Violation[] {
    // Card legs: the card system credits whatever it is told, so the cap is checked here: what a
    // transaction's refunds credit to a card is at most what its legs paid from that card. (Refund
    // leg numbers `R…-n` count a refund's legs, not the payment legs: the lock key `T…-Pn` is what
    // ties a payment to its transaction.)
    const key = (txnNo: string, cardNo: string) => `${txnNo} ${cardNo}`;
    const paid = new Map<string, number>();
    for (const lock of this.rows("SELECT lock_key, card_no, amount_fen FROM card_locks WHERE status = 'confirmed'")) {
      const k = key(txnNoIn(String(lock.lock_key)) ?? String(lock.lock_key), String(lock.card_no));
      paid.set(k, (paid.get(k) ?? 0) + Number(lock.amount_fen));
    }
    const refunded = new Map<string, number>();
    for (const move of this.cardMoves()) {
      if (move.reason !== 'refund' || !move.creditNo.startsWith('R')) continue;
      const k = key(move.txnNo, move.cardNo);
      refunded.set(k, (refunded.get(k) ?? 0) + move.amountFen);
    }
    const cards: Violation[] = [];
    for (const [k, fen] of refunded) {
      const of = paid.get(k) ?? 0;
      const [txnNo, cardNo] = k.split(' ') as [string, string];
      if (fen > of) cards.push({ invariant: 'refund-exceeds-paid', txnNo, message: `card ${cardNo} paid ${of} fen for ${txnNo} and was refunded ${fen}`, at: now });
    }
    return [...cards, ...this.rows(
      `SELECT p.payment_no, p.txn_no, p.amount_fen, sum(r.amount_fen) AS refunded FROM payments p JOIN refunds r ON r.payment_no = p.payment_no
       WHERE r.status != 'failed' GROUP BY p.payment_no HAVING sum(r.amount_fen) > p.amount_fen`,
    ).map((r): Violation => ({ invariant: 'refund-exceeds-paid', txnNo: String(r.txn_no), message: `payment ${String(r.payment_no)} of ${String(r.amount_fen)} fen has ${String(r.refunded)} fen refunded`, at: now }))];
  }

  /** Each card: balance = initial − confirmed locks − debits + credits, and its locked money = its open locks. */
  private cardBalances(now: number): Violation[] {
    const expected = new Map(this.dataset.cards.map((c) => [c.cardNo, { available: c.balanceFen, locked: 0 }]));
    for (const lock of this.rows('SELECT card_no, amount_fen, status FROM card_locks')) {
      const e = expected.get(String(lock.card_no));
      if (!e) continue;
      if (lock.status === 'locked') {
        e.available -= Number(lock.amount_fen);
        e.locked += Number(lock.amount_fen);
      } else if (lock.status === 'confirmed') e.available -= Number(lock.amount_fen);
    }
    for (const move of this.cardMoves()) {
      const e = expected.get(move.cardNo);
      if (e) e.available += move.verb === 'credit' ? move.amountFen : -move.amountFen;
    }
    const out: Violation[] = [];
    // A top-up refund takes back at most what the sale credited to the card.
    const perTxn = new Map<string, { credited: number; debited: number }>();
    for (const move of this.cardMoves()) {
      if (move.reason === 'refund') continue;
      const t = perTxn.get(move.txnNo) ?? { credited: 0, debited: 0 };
      if (move.verb === 'credit') t.credited += move.amountFen;
      else t.debited += move.amountFen;
      perTxn.set(move.txnNo, t);
    }
    for (const [txnNo, t] of perTxn) {
      if (t.debited > t.credited) out.push({ invariant: 'card-balance', txnNo, message: `the card was debited ${t.debited} fen to refund a top-up that credited ${t.credited}`, at: now });
    }
    for (const card of this.rows('SELECT card_no, available_fen, locked_fen FROM cards')) {
      const e = expected.get(String(card.card_no));
      if (!e) continue;
      if (e.available !== Number(card.available_fen) || e.locked !== Number(card.locked_fen)) {
        out.push({ invariant: 'card-balance', txnNo: null, message: `card ${String(card.card_no)} holds ${String(card.available_fen)} available / ${String(card.locked_fen)} locked; its ledger says ${e.available} / ${e.locked}`, at: now });
      }
    }
    return out;
  }

  private locksSettled(now: number, views: Map<string, View | null>): Violation[] {
    const out: Violation[] = [];
    const orderTxn = new Map(this.rows('SELECT order_no, txn_no FROM orders').map((o) => [String(o.order_no), String(o.txn_no)]));
    const txnOfLock = (lockKey: string) => txnNoIn(lockKey) ?? orderTxn.get(lockKey.split(':')[0] ?? '') ?? null;
    for (const table of ['card_locks', 'coupon_locks', 'points_locks', 'goods_reservations']) {
      for (const lock of this.rows(`SELECT lock_key FROM ${table} WHERE status = 'locked'`)) {
        const txnNo = txnOfLock(String(lock.lock_key));
        out.push({ invariant: 'locks-settled', txnNo, message: `${table} ${String(lock.lock_key)} is still locked (transaction ${views.get(txnNo ?? '')?.state ?? 'unknown'})`, at: now });
      }
    }
    return out;
  }

  /** DOMAIN.md "Refund": a sale that did not happen keeps no points or coupons of the customer; a full refund returns the points used. */
  private pointsAndCoupons(now: number, views: Map<string, View | null>): Violation[] {
    const out: Violation[] = [];
    const restoredPoints = new Map<string, number>();
    for (const c of this.calls) {
      if (c.system !== 'points' || c.verb !== 'restore' || !c.txnNo || c.outcome !== 'ok') continue;
      restoredPoints.set(c.txnNo, (restoredPoints.get(c.txnNo) ?? 0) + (c.request as { points: number }).points);
    }
    const orderTxn = new Map(this.rows('SELECT order_no, txn_no FROM orders').map((o) => [String(o.order_no), String(o.txn_no)]));
    for (const lock of this.rows("SELECT lock_key, points FROM points_locks WHERE status = 'confirmed'")) {
      const txnNo = orderTxn.get(String(lock.lock_key).split(':')[0] ?? '');
      const view = txnNo ? views.get(txnNo) : undefined;
      if (!txnNo || !view) continue;
      const fully = view.state === 'cancelled' || view.state === 'failed' || (view.state === 'completed' && view.payableAmount > 0 && view.refunds.filter((r) => r.status === 'succeeded').reduce((s, r) => s + r.amount, 0) === view.payableAmount);
      if (fully && (restoredPoints.get(txnNo) ?? 0) < Number(lock.points)) {
        out.push({ invariant: 'points-coupons-returned', txnNo, message: `${view.state} with ${view.refundedAmount} of ${view.payableAmount} refunded: ${String(lock.points)} points used, ${restoredPoints.get(txnNo) ?? 0} returned`, at: now });
      }
    }
    return out;
  }

  private rows(sql: string): Row[] {
    return this.db.prepare<[], Row>(sql).all();
  }
}

/** T…-P1, T…:step → T…; our numbers name their transaction. */
export function txnNoIn(s: string): string | null {
  const m = /T\d{21}[0-9A-Z]{6}/.exec(s);
  return m ? m[0] : null;
}
