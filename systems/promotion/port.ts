/** Which lines a promotion or coupon applies to. */
export interface Scope {
  /** `all`, or the fuel grades / goods categories / SKUs listed. */
  kind: 'all' | 'fuel' | 'goods';
  grades?: string[];
  categories?: string[];
  skus?: string[];
}

/** Static conditions; `minAmountFen` is judged when the promotion applies. */
export interface PromotionConditions {
  /** Local-time windows `HH:MM`-`HH:MM` (end exclusive, may wrap midnight). */
  timeWindows?: { start: string; end: string }[];
  /** ISO weekdays, 1 = Monday … 7 = Sunday. */
  weekdays?: number[];
  memberLevels?: string[];
  paymentMethods?: string[];
  minAmountFen?: number;
}

export type Benefit =
  | { type: 'perLiter'; valueFen: number }
  | { type: 'percent'; bp: number; maxDiscountFen?: number }
  | { type: 'amountOff'; valueFen: number }
  | { type: 'thresholdOff'; thresholdFen: number; valueFen: number; repeat: boolean }
  | { type: 'topUpBonus'; thresholdFen: number; bonusFen: number; repeat: boolean };

export interface Promotion {
  id: string;
  name: string;
  priority: number;
  scope: Scope;
  conditions: PromotionConditions;
  benefit: Benefit;
  exclusiveGroup?: string;
  stackableWithCoupons: boolean;
  /** ISO instants; outside them the promotion is not offered. */
  validFrom?: string;
  validTo?: string;
}

/** The promotion engine (non-core: a failing engine degrades the quote). */
export interface PromotionPort {
  listPromotions(req: { merchantId: string; stationId: string }): Promise<Promotion[]>;
}
