import { Type, type Static } from '@sinclair/typebox';
import { PAYMENT_METHODS, TOP_UP_DEBIT_STATUSES, type TopUpDebitView } from '../machines/types.ts';

/** Route schemas (API.md bodies). Unknown fields are refused: every object is closed. */

const Fen = Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'fen' });
/** An identifier in a request: merchant, station, user, card, coupon, … */
export const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' });

/** A fuel item has exactly one of `amount` / `volumeMl`; goods by SKU and quantity; a top-up by card and amount; a virtual item by its fulfilment code and price. */
export const ItemSchema = Type.Union([
  Type.Object({ type: Type.Literal('fuel'), nozzleNo: Type.Integer({ minimum: 1, maximum: 999 }), amount: Fen }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('fuel'), nozzleNo: Type.Integer({ minimum: 1, maximum: 999 }), volumeMl: Type.Integer({ minimum: 1, maximum: 10_000_000 }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('goods'), sku: Id, quantity: Type.Integer({ minimum: 1, maximum: 999 }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('stored_value'), cardNo: Id, amount: Fen }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('virtual'), code: Id, name: Type.String({ minLength: 1, maxLength: 64 }), amount: Fen }, { additionalProperties: false }),
]);

export const PaymentMethodSchema = Type.Union(PAYMENT_METHODS.map((m) => Type.Literal(m)));

export const StartBody = Type.Object(
  {
    scene: Type.String({ minLength: 1, maxLength: 32 }),
    merchantId: Id,
    stationId: Id,
    userId: Id,
    items: Type.Array(ItemSchema, { minItems: 1, maxItems: 20 }),
    paymentMethods: Type.Optional(Type.Array(PaymentMethodSchema, { uniqueItems: true, maxItems: 5 })),
    usePoints: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type StartBody = Static<typeof StartBody>;

/** Re-quote: the station, user and merchant stay those of the transaction. */
export const RequoteBody = Type.Object(
  {
    items: Type.Array(ItemSchema, { minItems: 1, maxItems: 20 }),
    paymentMethods: Type.Optional(Type.Array(PaymentMethodSchema, { uniqueItems: true, maxItems: 5 })),
    usePoints: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type RequoteBody = Static<typeof RequoteBody>;

export const OrderBody = Type.Object(
  {
    quoteId: Id,
    comboId: Id,
    deductionMode: Type.Optional(Type.Union([Type.Literal('pre'), Type.Literal('post')])),
  },
  { additionalProperties: false },
);
export type OrderBody = Static<typeof OrderBody>;

export const LegSchema = Type.Object(
  { method: PaymentMethodSchema, amount: Fen, cardNo: Type.Optional(Id) },
  { additionalProperties: false },
);

// No legs is how an order with nothing to pay (fully discounted) is paid: the legs add up to its 0 payable.
export const PayBody = Type.Object({ legs: Type.Array(LegSchema, { minItems: 0, maxItems: 5 }) }, { additionalProperties: false });
export type PayBody = Static<typeof PayBody>;

const FlexibleAmount = Type.Union([Fen, Type.Literal('max'), Type.Literal('rest')]);

export const OrderAndPayBody = Type.Object(
  {
    quoteId: Id,
    comboId: Id,
    deductionMode: Type.Optional(Type.Union([Type.Literal('pre'), Type.Literal('post')])),
    legs: Type.Array(LegSchema, { minItems: 0, maxItems: 5 }),
  },
  { additionalProperties: false },
);
export type OrderAndPayBody = Static<typeof OrderAndPayBody>;

/** Quote + order + pay; the best combination unless `comboId` is given; legs may say `max` / `rest`. */
export const CheckoutBody = Type.Object(
  {
    scene: Type.String({ minLength: 1, maxLength: 32 }),
    merchantId: Id,
    stationId: Id,
    userId: Id,
    items: Type.Array(ItemSchema, { minItems: 1, maxItems: 20 }),
    paymentMethods: Type.Optional(Type.Array(PaymentMethodSchema, { uniqueItems: true, maxItems: 5 })),
    usePoints: Type.Optional(Type.Boolean()),
    comboId: Type.Optional(Id),
    deductionMode: Type.Optional(Type.Union([Type.Literal('pre'), Type.Literal('post')])),
    legs: Type.Array(Type.Object({ method: PaymentMethodSchema, amount: FlexibleAmount, cardNo: Type.Optional(Id) }, { additionalProperties: false }), { minItems: 0, maxItems: 5 }),
  },
  { additionalProperties: false },
);
export type CheckoutBody = Static<typeof CheckoutBody>;

/** No amount and no lines: everything still refundable. */
export const RefundBody = Type.Object(
  {
    amount: Type.Optional(Fen),
    lines: Type.Optional(
      Type.Array(
        Type.Object({ lineNo: Type.Integer({ minimum: 1 }), quantity: Type.Optional(Type.Integer({ minimum: 1 })), amount: Type.Optional(Fen) }, { additionalProperties: false }),
        { minItems: 1, maxItems: 20 },
      ),
    ),
    reason: Type.String({ minLength: 1, maxLength: 200 }),
  },
  { additionalProperties: false },
);
export type RefundBody = Static<typeof RefundBody>;
export const RefundParams = Type.Object({ txnNo: Id, refundNo: Id });

export const CancelBody = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false });
export type CancelBody = Static<typeof CancelBody>;

export const TxnParams = Type.Object({ txnNo: Id });

const Flag = Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')]));

/** Query filters of a transaction list (the admin API's and the inspector's). */
export const ListFilterQuery = {
  state: Type.Optional(Type.String({ maxLength: 32 })),
  needsAttention: Flag,
  stuck: Flag,
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
};

/** A list query as the store reads it: 1 to 200 rows (50 unless told); see {@link ListFilterQuery}. */
export function listFilter(query: { state?: string; needsAttention?: 'true' | 'false'; stuck?: 'true' | 'false'; limit?: string }): { state?: string; needsAttention: boolean; limit: number } {
  return {
    ...(query.state ? { state: query.state } : {}),
    // "stuck" lists what waits for a person, which includes what the sentinel gave up nudging.
    needsAttention: query.needsAttention === 'true' || query.stuck === 'true',
    limit: Math.min(200, Math.max(1, Number(query.limit ?? 50))),
  };
}
export const OrderParams = Type.Object({ orderNo: Id });


export const ErrorResponse = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Record(Type.String(), Type.Unknown())) }),
});

/** One card debit of a refunded top-up (machines/types.ts TopUpDebitView). */
export const TopUpDebitSchema = Type.Object(
  {
    debitNo: Type.String({ description: "the debit's number at the card system: R…-D for the first card, R…-D2, R…-D3 … for the next" }),
    cardNo: Type.String(),
    amountFen: Type.Integer({ minimum: 0, description: 'fen: the top-up and its share of the bonus' }),
    status: Type.Unsafe<TopUpDebitView['status']>({
      type: 'string',
      enum: [...TOP_UP_DEBIT_STATUSES],
      description: 'skipped: not asked, an earlier card refused; creditedBack: given back when a later card refused; creditBackFailed: owed to the card, needs a person',
    }),
  },
  { additionalProperties: false },
);

/** One refund of the transaction view (machines/types.ts RefundView); open for fields added later. */
export const RefundViewSchema = Type.Object(
  {
    refundNo: Type.String(),
    amount: Type.Integer({ description: 'fen' }),
    reason: Type.String(),
    status: Type.String({ description: 'requested | processing | succeeded | attention | rejected' }),
    requestedAt: Type.String(),
    legs: Type.Array(Type.Object({ legNo: Type.Integer(), refundLegNo: Type.String(), method: Type.String(), amount: Type.Integer({ description: 'fen' }), status: Type.String({ description: 'pending | succeeded | attention | to_pay_at_station (a cash leg of an imported OS order: paid out at the station)' }) }, { additionalProperties: true })),
    lines: Type.Array(Type.Object({ lineNo: Type.Integer(), amountFen: Type.Integer(), quantity: Type.Optional(Type.Integer()) }, { additionalProperties: true })),
    pointsReturned: Type.Integer(),
    couponsRestored: Type.Array(Type.String()),
    couponsExpired: Type.Array(Type.String()),
    topUpDebitFen: Type.Integer({ minimum: 0, description: "fen: the sum of topUpDebits' amountFen, as planned; each debit's status says whether it happened" }),
    // Optional in the schema only: an answer stored under an Idempotency-Key before debits were
    // listed is replayed as it was, not refused by the serializer. Every view lists them.
    topUpDebits: Type.Optional(Type.Array(TopUpDebitSchema, { description: 'each card debit of a refunded top-up, one per card, in line order; always present in answers made since they are listed' })),
  },
  { additionalProperties: true },
);

/** The transaction view (runtime/view.ts); documented loosely, the view type is the contract. */
export const TransactionViewSchema = Type.Object(
  {
    txnNo: Type.String(),
    orderNo: Type.Union([Type.String(), Type.Null()]),
    state: Type.String(),
    refunds: Type.Array(RefundViewSchema),
  },
  { additionalProperties: true },
);

export const errorResponses = {
  400: ErrorResponse,
  401: ErrorResponse,
  403: ErrorResponse,
  404: ErrorResponse,
  409: ErrorResponse,
  422: ErrorResponse,
  503: ErrorResponse,
};
