import type { CallKey, Outcome } from '../contract.ts';

/** A shop SKU at a station. Price in fen. */
export interface GoodsItem {
  sku: string;
  name: string;
  category: string;
  priceFen: number;
  /** Units on the shelf not reserved by unfinished orders. */
  availableStock: number;
}

/**
 * The goods system (core when goods are bought). Stock is a TCC resource keyed by `lockKey`
 * (deterministic: `txnNo:goods`): `reserve` is the try, `deduct` the confirm, `release` the cancel.
 * Same contract as every callee: idempotent by key, empty rollback (a release before any reserve
 * is recorded and succeeds, and a later reserve with that key is refused with LOCK_CANCELLED),
 * release after deduct refused with ALREADY_CONFIRMED.
 */
export interface GoodsPort {
  /** The station's goods for these SKUs; unknown SKUs are simply absent from the result. */
  getGoods(stationId: string, skus: string[]): Promise<GoodsItem[]>;
  reserve(key: CallKey, req: { lockKey: string; stationId: string; items: { sku: string; quantity: number }[] }): Promise<Outcome<{ lockKey: string }, 'OUT_OF_STOCK' | 'LOCK_CANCELLED'>>;
  deduct(key: CallKey, req: { lockKey: string }): Promise<Outcome<{}, 'LOCK_CANCELLED' | 'LOCK_NOT_FOUND'>>;
  release(key: CallKey, req: { lockKey: string }): Promise<Outcome<{}, 'ALREADY_CONFIRMED'>>;
}
