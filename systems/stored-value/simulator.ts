import { idempotencyKey, type CallKey, type Outcome } from '../contract.ts';
import type { FaultInjector } from '../sim/faults.ts';
import type { SimStore } from '../sim/store.ts';
import { TccRules, type LockStatus } from '../sim/tcc.ts';
import type { Card, CreditReason, DebitReason, LockRefusal, StoredValuePort } from './port.ts';

/** One lock on a card as the simulator keeps it. */
export interface CardLock {
  lockKey: string;
  amountFen: number;
  status: LockStatus;
  updatedAt: string;
}
type LockRow = { card_no: string; amount_fen: number; status: LockStatus };

/**
 * The stored-value card system, simulated over the {@link SimStore} as a TCC resource:
 * `lock` moves the amount from available to locked, `confirm` deducts the locked amount,
 * `cancel` returns it to available; `credit` and `debit` move available money directly. Each verb is idempotent by its key and by the lock's state,
 * and a cancel that finds no lock leaves a tombstone so a late lock cannot hang.
 */
export class StoredValueSimulator implements StoredValuePort {
  private readonly stmts;
  private readonly tcc: TccRules;

  constructor(private readonly store: SimStore, private readonly faults: FaultInjector) {
    this.tcc = new TccRules(store, 'storedValue', { try: 'lock', confirm: 'confirm', cancel: 'cancel' });
    const db = store.db;
    this.stmts = {
      card: db.prepare<[string], Card>(
        'SELECT card_no AS cardNo, user_id AS userId, available_fen AS availableFen, locked_fen AS lockedFen FROM cards WHERE card_no = ?'),
      locksOf: db.prepare<[string], CardLock>(
        'SELECT lock_key AS lockKey, amount_fen AS amountFen, status, updated_at AS updatedAt FROM card_locks WHERE card_no = ? ORDER BY rowid'),
      lock: db.prepare<[string], LockRow>('SELECT card_no, amount_fen, status FROM card_locks WHERE lock_key = ?'),
      insertLock: db.prepare<[string, string, number, string]>(
        "INSERT INTO card_locks (lock_key, card_no, amount_fen, status, updated_at) VALUES (?, ?, ?, 'locked', ?)"),
      setLock: db.prepare<[LockStatus, string, string]>('UPDATE card_locks SET status = ?, updated_at = ? WHERE lock_key = ?'),
      // Signed deltas: lock (-a, +a), confirm (0, -a), cancel (+a, -a), credit (+a, 0), debit (-a, 0).
      // The CHECKs keep both >= 0.
      move: db.prepare<[number, number, string]>(
        'UPDATE cards SET available_fen = available_fen + ?, locked_fen = locked_fen + ? WHERE card_no = ?'),
    };
  }

  getCard(cardNo: string): Promise<Card | null> {
    return this.faults.run('getCard', () => this.peekCard(cardNo));
  }

  /** The card as stored, bypassing faults (admin API, test assertions). */
  peekCard(cardNo: string): Card | null {
    return this.stmts.card.get(cardNo) ?? null;
  }

  /** The card's locks, oldest first, bypassing faults. */
  peekLocks(cardNo: string): CardLock[] {
    return this.stmts.locksOf.all(cardNo);
  }

  lock(key: CallKey, req: { lockKey: string; cardNo: string; amountFen: number }): Promise<Outcome<{ lockKey: string }, LockRefusal>> {
    if (!Number.isSafeInteger(req.amountFen) || req.amountFen <= 0) {
      return Promise.reject(new RangeError(`lock amount must be a positive integer of fen, got ${req.amountFen}`));
    }
    const k = idempotencyKey(key);
    return this.faults.run('lock', () =>
      this.store.once('storedValue', k, 'lock', req, () =>
        this.tcc.try(k, req.lockKey, this.stmts.lock.get(req.lockKey), () => {
          const card = this.stmts.card.get(req.cardNo);
          if (!card) return { ok: false, code: 'CARD_NOT_FOUND', message: `no card ${req.cardNo}` };
          if (card.availableFen < req.amountFen) {
            return { ok: false, code: 'INSUFFICIENT_BALANCE', message: `card ${req.cardNo} has ${card.availableFen} fen available, ${req.amountFen} needed` };
          }
          this.stmts.move.run(-req.amountFen, req.amountFen, req.cardNo);
          this.stmts.insertLock.run(req.lockKey, req.cardNo, req.amountFen, this.store.nowIso());
          return undefined;
        })));
  }

  confirm(key: CallKey, req: { lockKey: string }): Promise<Outcome<{}, 'LOCK_CANCELLED' | 'LOCK_NOT_FOUND'>> {
    const k = idempotencyKey(key);
    return this.faults.run('confirm', () =>
      this.store.once('storedValue', k, 'confirm', req, () =>
        this.tcc.confirm(k, req.lockKey, this.stmts.lock.get(req.lockKey), (lock) => {
          this.stmts.move.run(0, -lock.amount_fen, lock.card_no);
          this.stmts.setLock.run('confirmed', this.store.nowIso(), req.lockKey);
        })));
  }

  cancel(key: CallKey, req: { lockKey: string }): Promise<Outcome<{}, 'ALREADY_CONFIRMED'>> {
    const k = idempotencyKey(key);
    return this.faults.run('cancel', () =>
      this.store.once('storedValue', k, 'cancel', req, () =>
        this.tcc.cancel(k, req.lockKey, this.stmts.lock.get(req.lockKey), (lock) => {
          this.stmts.move.run(lock.amount_fen, -lock.amount_fen, lock.card_no);
          this.stmts.setLock.run('cancelled', this.store.nowIso(), req.lockKey);
        })));
  }

  credit(key: CallKey, req: { cardNo: string; creditNo: string; amountFen: number; reason: CreditReason }): Promise<Outcome<{ creditNo: string }, 'CARD_NOT_FOUND'>> {
    if (!Number.isSafeInteger(req.amountFen) || req.amountFen <= 0) {
      return Promise.reject(new RangeError(`credit amount must be a positive integer of fen, got ${req.amountFen}`));
    }
    const k = idempotencyKey(key);
    return this.faults.run('credit', () =>
      this.store.once('storedValue', k, 'credit', req, () =>
        this.store.oncePerNo('storedValue', 'credit', req.creditNo, req, (): Outcome<{ creditNo: string }, 'CARD_NOT_FOUND'> => {
          if (!this.stmts.card.get(req.cardNo)) return { ok: false, code: 'CARD_NOT_FOUND', message: `no card ${req.cardNo}` };
          this.stmts.move.run(req.amountFen, 0, req.cardNo);
          this.store.recordEffect('storedValue', 'credit', k);
          return { ok: true, creditNo: req.creditNo };
        })));
  }

  debit(key: CallKey, req: { cardNo: string; debitNo: string; amountFen: number; reason: DebitReason }): Promise<Outcome<{ debitNo: string }, 'CARD_NOT_FOUND' | 'INSUFFICIENT_BALANCE'>> {
    if (!Number.isSafeInteger(req.amountFen) || req.amountFen <= 0) {
      return Promise.reject(new RangeError(`debit amount must be a positive integer of fen, got ${req.amountFen}`));
    }
    const k = idempotencyKey(key);
    return this.faults.run('debit', () =>
      this.store.once('storedValue', k, 'debit', req, () =>
        this.store.oncePerNo('storedValue', 'debit', req.debitNo, req, (): Outcome<{ debitNo: string }, 'CARD_NOT_FOUND' | 'INSUFFICIENT_BALANCE'> => {
          const card = this.stmts.card.get(req.cardNo);
          if (!card) return { ok: false, code: 'CARD_NOT_FOUND', message: `no card ${req.cardNo}` };
          // All or nothing: a top-up partly spent cannot be refunded by taking what is left.
          if (card.availableFen < req.amountFen) {
            return { ok: false, code: 'INSUFFICIENT_BALANCE', message: `card ${req.cardNo} has ${card.availableFen} fen available, ${req.amountFen} needed` };
          }
          this.stmts.move.run(-req.amountFen, 0, req.cardNo);
          this.store.recordEffect('storedValue', 'debit', k);
          return { ok: true, debitNo: req.debitNo };
        })));
  }
}
