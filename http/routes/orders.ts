import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { TradeError } from '../../domain/errors.ts';
import { groupByOf, orderQueryOf, orderView } from '../../runtime/order-queries.ts';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import { merchantsOf } from '../auth.ts';
import { errorResponses } from '../schemas.ts';

const Text = Type.String({ minLength: 1, maxLength: 64 });
/** `YYYY-MM-DD` (that China-time day's start) or an ISO date-time. */
const Instant = Type.String({ minLength: 10, maxLength: 40, description: 'YYYY-MM-DD (China-time midnight) or an ISO 8601 date-time' });

const OrderFilterQuery = {
  merchantId: Type.Optional(Text),
  stationId: Type.Optional(Text),
  scene: Type.Optional(Text),
  state: Type.Optional(Type.String({ pattern: '^[a-z_]{1,32}$' })),
  method: Type.Optional(Text),
  origin: Type.Optional(Type.Union([Type.Literal('platform'), Type.Literal('os-import')])),
  osOrderNo: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "an imported order's OS order number; needs stationId (OS numbers are unique per station)" })),
  from: Type.Optional(Instant),
  to: Type.Optional(Instant),
};

const SearchQuery = Type.Object(
  { ...OrderFilterQuery, cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })), limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })) },
  { additionalProperties: false },
);
const SummaryQuery = Type.Object(
  { ...OrderFilterQuery, groupBy: Type.Optional(Type.String({ pattern: '^(day|station|method)(,(day|station|method)){0,2}$' })) },
  { additionalProperties: false },
);

const Fen = Type.Integer();
const Ms = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

/** One order of `GET /admin/orders`: an archived row, or an in-flight transaction's (finishedAt null). */
export const OrderSchema = Type.Object({
  txnNo: Type.String(),
  orderNo: Type.Union([Type.String(), Type.Null()]),
  origin: Type.String(),
  osOrderNo: Type.Union([Type.String(), Type.Null()]),
  merchantId: Type.String(),
  stationId: Type.String(),
  scene: Type.String(),
  userId: Type.Union([Type.String(), Type.Null()]),
  state: Type.String(),
  originalAmountFen: Fen,
  discountAmountFen: Fen,
  payableAmountFen: Fen,
  paidAmountFen: Fen,
  refundedAmountFen: Fen,
  legs: Type.Array(
    Type.Object({
      legNo: Type.Integer(),
      paymentNo: Type.String(),
      method: Type.String(),
      amountFen: Fen,
      status: Type.String(),
      channelTradeNo: Type.Union([Type.String(), Type.Null()]),
      cardNo: Type.Union([Type.String(), Type.Null()]),
      capturedAt: Ms,
    }),
  ),
  refunds: Type.Array(
    Type.Object({
      refundNo: Type.String(),
      amountFen: Fen,
      status: Type.String(),
      requestedAt: Type.String({ format: 'date-time' }),
      legs: Type.Array(Type.Object({ refundLegNo: Type.String(), paymentNo: Type.String(), method: Type.String(), amountFen: Fen, status: Type.String(), refundedAt: Ms })),
    }),
  ),
  createdAt: Type.String({ format: 'date-time' }),
  paidAt: Ms,
  finishedAt: Ms,
});

const OrderPageSchema = Type.Object({ items: Type.Array(OrderSchema), nextCursor: Type.Union([Type.String(), Type.Null()]) });

export const SummaryRowSchema = Type.Object({
  day: Type.Union([Type.String(), Type.Null()]),
  stationId: Type.Union([Type.String(), Type.Null()]),
  method: Type.Union([Type.String(), Type.Null()]),
  count: Type.Integer(),
  originalAmountFen: Fen,
  discountAmountFen: Fen,
  payableAmountFen: Fen,
  paidAmountFen: Fen,
  refundedAmountFen: Fen,
});
const SummarySchema = Type.Object({ groups: Type.Array(SummaryRowSchema) });

/** API.md admin orders: search and sum the orders of the hot store and the archive together. `admin` scope. */
export const orderRoutes: FastifyPluginAsyncTypebox<{ tc: TradeCenter }> = async (app, { tc }) => {
  app.get('/admin/orders', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Search orders (hot store and archive), newest first; page with cursor',
      querystring: SearchQuery,
      response: { 200: OrderPageSchema, ...errorResponses },
    },
    handler: async (req) => {
      const limit = Math.min(200, Math.max(1, Number(req.query.limit ?? 50)));
      const page = await tc.orders.search(orderQueryOf(req.query, merchantsOf(req)), limit, req.query.cursor ?? null).catch((err: unknown) => {
        if (err instanceof RangeError) throw new TradeError('INVALID_REQUEST', `cursor: ${err.message}`);
        throw err;
      });
      return { items: page.rows.map(orderView), nextCursor: page.nextCursor };
    },
  });

  app.get('/admin/orders/summary', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Counts and sums of orders (hot store and archive), grouped by day (China time), station and/or method',
      querystring: SummaryQuery,
      response: { 200: SummarySchema, ...errorResponses },
    },
    handler: async (req) => {
      return { groups: await tc.orders.summary(orderQueryOf(req.query, merchantsOf(req)), groupByOf(req.query.groupBy)) };
    },
  });
};
