import { idempotencyKey, type CallKey, type Outcome } from '../contract.ts';
import type { FaultInjector } from '../sim/faults.ts';
import type { SimStore } from '../sim/store.ts';
import { TccRules, type LockStatus } from '../sim/tcc.ts';
import type { GoodsItem, GoodsPort } from './port.ts';

/** Requested units of one SKU. */
export interface GoodsQuantity {
  sku: string;
  quantity: number;
}

/** A SKU's stock as the simulator keeps it: on the shelf, and held by unfinished orders. */
export interface GoodsStock extends GoodsItem {
  stationId: string;
  reservedStock: number;
}

/** One reservation (TCC lock) of stock at a station. */
export interface GoodsReservation {
  lockKey: string;
  stationId: string;
  items: GoodsQuantity[];
  status: LockStatus;
  updatedAt: string;
}

type ReservationRow = { station_id: string; items: string; status: LockStatus; updated_at: string };

function toReservation(lockKey: string, row: ReservationRow): GoodsReservation {
  return { lockKey, stationId: row.station_id, items: JSON.parse(row.items) as GoodsQuantity[], status: row.status, updatedAt: row.updated_at };
}

/**
 * The goods system, simulated over the {@link SimStore} as a TCC resource: `reserve` moves the
 * quantities of every requested SKU from available to reserved (all or nothing), `deduct`
 * consumes the reserved units, `release` puts them back on the shelf. The callee contract (keys,
 * empty rollback, crossings) is {@link TccRules}'.
 */
export class GoodsSimulator implements GoodsPort {
  private readonly stmts;
  private readonly tcc: TccRules;

  constructor(private readonly store: SimStore, private readonly faults: FaultInjector) {
    this.tcc = new TccRules(store, 'goods', { try: 'reserve', confirm: 'deduct', cancel: 'release' });
    const db = store.db;
    this.stmts = {
      item: db.prepare<[string, string], GoodsItem>(
        'SELECT sku, name, category, price_fen AS priceFen, available AS availableStock FROM goods WHERE station_id = ? AND sku = ?'),
      stock: db.prepare<[string, string], GoodsStock>(
        `SELECT station_id AS stationId, sku, name, category, price_fen AS priceFen, available AS availableStock,
          reserved AS reservedStock FROM goods WHERE station_id = ? AND sku = ?`),
      reservation: db.prepare<[string], ReservationRow>(
        'SELECT station_id, items, status, updated_at FROM goods_reservations WHERE lock_key = ?'),
      reservationsAt: db.prepare<[string], ReservationRow & { lock_key: string }>(
        'SELECT lock_key, station_id, items, status, updated_at FROM goods_reservations WHERE station_id = ? ORDER BY rowid'),
      insertReservation: db.prepare<[string, string, string, string]>(
        "INSERT INTO goods_reservations (lock_key, station_id, items, status, updated_at) VALUES (?, ?, ?, 'locked', ?)"),
      setReservation: db.prepare<[LockStatus, string, string]>(
        'UPDATE goods_reservations SET status = ?, updated_at = ? WHERE lock_key = ?'),
      // Signed deltas: reserve (-q, +q), deduct (0, -q), release (+q, -q). The CHECKs keep both >= 0.
      move: db.prepare<[number, number, string, string]>(
        'UPDATE goods SET available = available + ?, reserved = reserved + ? WHERE station_id = ? AND sku = ?'),
    };
  }

  getGoods(stationId: string, skus: string[]): Promise<GoodsItem[]> {
    return this.faults.run('getGoods', () => this.peekGoods(stationId, skus));
  }

  /** What {@link getGoods} answers, bypassing faults. */
  peekGoods(stationId: string, skus: string[]): GoodsItem[] {
    return [...new Set(skus)].flatMap((sku) => this.stmts.item.get(stationId, sku) ?? []);
  }

  /** One SKU's stock at a station, reserved units included, bypassing faults (admin API, tests). */
  peekStock(stationId: string, sku: string): GoodsStock | null {
    return this.stmts.stock.get(stationId, sku) ?? null;
  }

  /** A reservation by its lockKey, bypassing faults. */
  peekReservation(lockKey: string): GoodsReservation | null {
    const row = this.stmts.reservation.get(lockKey);
    return row ? toReservation(lockKey, row) : null;
  }

  /** The station's reservations, oldest first, bypassing faults. */
  peekReservations(stationId: string): GoodsReservation[] {
    return this.stmts.reservationsAt.all(stationId).map((row) => toReservation(row.lock_key, row));
  }

  reserve(key: CallKey, req: { lockKey: string; stationId: string; items: GoodsQuantity[] }): Promise<Outcome<{ lockKey: string }, 'OUT_OF_STOCK' | 'LOCK_CANCELLED'>> {
    const bad = req.items.find((i) => !Number.isSafeInteger(i.quantity) || i.quantity <= 0);
    if (req.items.length === 0 || bad) {
      return Promise.reject(new RangeError(`reserve needs items with positive integer quantities, got ${JSON.stringify(req.items)}`));
    }
    const k = idempotencyKey(key);
    return this.faults.run('reserve', () =>
      this.store.once('goods', k, 'reserve', req, () =>
        this.tcc.try(k, req.lockKey, this.stmts.reservation.get(req.lockKey), () => {
          // One SKU may come in several lines (two bottles of water scanned apart): reserve the sum.
          const wanted = new Map<string, number>();
          for (const { sku, quantity } of req.items) wanted.set(sku, (wanted.get(sku) ?? 0) + quantity);
          for (const [sku, quantity] of wanted) {
            const available = this.stmts.stock.get(req.stationId, sku)?.availableStock ?? 0;
            if (available < quantity) {
              return { ok: false, code: 'OUT_OF_STOCK', message: `station ${req.stationId} has ${available} of ${sku}, ${quantity} needed` };
            }
          }
          const items = [...wanted].map(([sku, quantity]) => ({ sku, quantity }));
          for (const { sku, quantity } of items) this.stmts.move.run(-quantity, quantity, req.stationId, sku);
          this.stmts.insertReservation.run(req.lockKey, req.stationId, JSON.stringify(items), this.store.nowIso());
          return undefined;
        })));
  }

  deduct(key: CallKey, req: { lockKey: string }): Promise<Outcome<{}, 'LOCK_CANCELLED' | 'LOCK_NOT_FOUND'>> {
    const k = idempotencyKey(key);
    return this.faults.run('deduct', () =>
      this.store.once('goods', k, 'deduct', req, () =>
        this.tcc.confirm(k, req.lockKey, this.stmts.reservation.get(req.lockKey), (row) => this.settle(req.lockKey, row, 'confirmed'))));
  }

  release(key: CallKey, req: { lockKey: string }): Promise<Outcome<{}, 'ALREADY_CONFIRMED'>> {
    const k = idempotencyKey(key);
    return this.faults.run('release', () =>
      this.store.once('goods', k, 'release', req, () =>
        this.tcc.cancel(k, req.lockKey, this.stmts.reservation.get(req.lockKey), (row) => this.settle(req.lockKey, row, 'cancelled'))));
  }

  /** Deducting consumes the reserved units; releasing puts them back on the shelf. */
  private settle(lockKey: string, row: ReservationRow, status: 'confirmed' | 'cancelled'): void {
    for (const { sku, quantity } of JSON.parse(row.items) as GoodsQuantity[]) {
      this.stmts.move.run(status === 'cancelled' ? quantity : 0, -quantity, row.station_id, sku);
    }
    this.stmts.setReservation.run(status, this.store.nowIso(), lockKey);
  }
}
