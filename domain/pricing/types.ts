import type { Promotion } from '../../systems/promotion/port.ts';

/** A priced line of a quote. Amounts in fen, volume in ml, unit price in fen per litre. */
export interface QuoteLine {
  lineNo: number;
  type: 'fuel';
  nozzleNo: number;
  grade: string;
  unitPrice: number;
  volumeMl: number;
  amount: number;
}

/** One discount of a combination, with its allocation to lines (`byLine[lineNo] = fen`). */
export interface Discount {
  kind: 'promotion';
  id: string;
  name: string;
  amount: number;
  byLine: Record<number, number>;
}

/** One way to pay for the quote: discounts that apply when every money leg uses `paymentMethod`. */
export interface Combo {
  comboId: string;
  /** The candidate payment method this combination is for; null when none was given. */
  paymentMethod: string | null;
  discounts: Discount[];
  discountAmount: number;
  payableAmount: number;
  /** Net amount per line after the discounts, `lineNo → fen`. */
  lineNets: Record<number, number>;
}

/** A kept quote (DOMAIN.md "Quote"): what an order placed from it is charged, to the fen. */
export interface Quote {
  quoteId: string;
  quotedAt: string;
  expiresAt: string;
  degraded: string[];
  lines: QuoteLine[];
  originalAmount: number;
  combos: Combo[];
  bestComboId: string;
}

export interface PricingInput {
  lines: QuoteLine[];
  promotions: Promotion[];
  memberLevel: string;
  /** Candidate payment methods; empty → promotions naming methods are not eligible. */
  paymentMethods: string[];
  /** The quote's time, epoch ms. */
  atMs: number;
  /** Station time zone, for time windows and weekdays. */
  timeZone: string;
}
