import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import { TradeError } from '../../domain/errors.ts';
import { sideBySide, type LegacyQuoteResult, type ShadowQuoteRecord } from '../../domain/shadow-quote.ts';
import { instant } from '../../runtime/order-queries.ts';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import { assertMayActFor, merchantsOf } from '../auth.ts';
import { idempotent } from '../idempotency.ts';
import { errorResponses, Id, PaymentMethodSchema, StartBody } from '../schemas.ts';

const Fen = Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'fen' });
const Name = Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: "the old system's name of it (shown in the report)" }));

/** One discount the old system gave (docs/shadow-quotes.md). */
const LegacyDiscountSchema = Type.Union([
  Type.Object({ kind: Type.Literal('promotion'), id: Id, name: Name, amountFen: Fen }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('coupon'), id: Id, name: Name, amountFen: Fen }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('points'), points: Type.Integer({ minimum: 0 }), amountFen: Fen }, { additionalProperties: false }),
]);

/** The old system's result of the same quote (docs/shadow-quotes.md). */
const LegacySchema = Type.Object(
  {
    quotedAt: Type.String({ minLength: 20, maxLength: 40, description: 'when the old system quoted (ISO 8601 with offset): the platform quotes at this instant too' }),
    ref: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "the old system's number of its quote or order" })),
    paymentMethod: Type.Optional(PaymentMethodSchema),
    originalAmountFen: Type.Optional(Fen),
    discounts: Type.Array(LegacyDiscountSchema, { maxItems: 50 }),
    payableAmountFen: Fen,
  },
  { additionalProperties: false },
);

/** `POST /v1/shadow/quotes`: the body of a quote (API.md "Start / re-quote") plus `legacy`. */
export const ShadowQuoteBody = Type.Object({ ...StartBody.properties, legacy: LegacySchema }, { additionalProperties: false });
export type ShadowQuoteBody = Static<typeof ShadowQuoteBody>;

const FenOrNull = Type.Union([Type.Integer(), Type.Null()]);
const BreakdownSchema = Type.Array(Type.Object({ item: Type.String({ description: 'promotion:<id>, coupon:<id>, points, original or payable' }), name: Type.Union([Type.String(), Type.Null()]), legacyFen: FenOrNull, platformFen: FenOrNull }));

/** A shadow quote as the API shows it: both results, the differences, and both breakdowns side by side. */
const ShadowQuoteViewSchema = Type.Object(
  {
    shadowId: Type.String(),
    merchantId: Type.String(),
    stationId: Type.String(),
    scene: Type.String(),
    mode: Type.String({ description: 'shadow, or live (recorded all the same)' }),
    quotedAt: Type.String({ format: 'date-time' }),
    recordedAt: Type.String({ format: 'date-time' }),
    agrees: Type.Boolean(),
    differences: Type.Array(Type.Object({ kind: Type.String() }, { additionalProperties: true })),
    breakdown: BreakdownSchema,
  },
  { additionalProperties: true },
);

const AgreementSchema = Type.Object({ total: Type.Integer(), agreeing: Type.Integer(), agreementRate: Type.Union([Type.Number(), Type.Null()]) });

const ReportQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ minLength: 10, maxLength: 40, description: 'quoted at or after: YYYY-MM-DD (China-time midnight) or an ISO date-time' })),
    to: Type.Optional(Type.String({ minLength: 10, maxLength: 40, description: 'quoted before' })),
    stationId: Type.Optional(Id),
    scene: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    merchantId: Type.Optional(Id),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })),
  },
  { additionalProperties: false },
);

/** A record with its times as ISO-8601 and both breakdowns side by side. */
export function shadowView(r: ShadowQuoteRecord) {
  const { quotedAtMs, recordedAtMs, ...rest } = r;
  return { ...rest, quotedAt: new Date(quotedAtMs).toISOString(), recordedAt: new Date(recordedAtMs).toISOString(), breakdown: sideBySide(r) };
}

function legacyOf(body: ShadowQuoteBody['legacy']): LegacyQuoteResult {
  return {
    ref: body.ref ?? null,
    paymentMethod: body.paymentMethod ?? null,
    originalAmountFen: body.originalAmountFen ?? null,
    discounts: body.discounts.map((d) =>
      d.kind === 'points'
        ? { kind: 'points', id: null, name: null, points: d.points, amountFen: d.amountFen }
        : { kind: d.kind, id: d.id, name: d.name ?? null, points: null, amountFen: d.amountFen },
    ),
    payableAmountFen: body.payableAmountFen,
  };
}

/** Shadow quotes (API.md, issue 20): our quote beside the old system's, recorded; the report over them. */
export const shadowRoutes: FastifyPluginAsyncTypebox<{ tc: TradeCenter }> = async (app, { tc }) => {
  app.post('/v1/shadow/quotes', {
    config: { scope: 'trade' },
    schema: {
      summary: "Shadow mode: quote a sale the old system quoted, at its time, and record both results (no order, no lock, no transaction)",
      body: ShadowQuoteBody,
      response: { 201: ShadowQuoteViewSchema, ...errorResponses },
    },
    handler: async (req, reply) => {
      const body = req.body;
      assertMayActFor(req, body.merchantId);
      const quotedAtMs = Date.parse(body.legacy.quotedAt);
      if (!Number.isFinite(quotedAtMs) || quotedAtMs < 0) throw new TradeError('INVALID_REQUEST', `legacy.quotedAt is not an ISO 8601 date-time: ${body.legacy.quotedAt}`, { field: 'legacy.quotedAt' });
      // Before the idempotency claim, like a sale: a legacy pair leaves nothing stored here.
      const route = await tc.routing.route(body.scene, body.stationId);
      if (route.mode === 'legacy') {
        throw new TradeError('NOT_ROUTED', `${body.scene} at station ${body.stationId} is not quoted here yet (legacy)`, { scene: body.scene, stationId: body.stationId, group: route.group, mode: route.mode });
      }
      await idempotent(tc.idempotencyLeases, req, reply, async (run) => {
        // Recorded with the key before anything is stored: a run taking over answers with the same record.
        const shadowId = await run.txnNo(() => tc.ids.next('S'));
        const record = await tc.shadow.record(shadowId, route.mode === 'live' ? 'live' : 'shadow', route.group, {
          scene: body.scene,
          merchantId: body.merchantId,
          stationId: body.stationId,
          userId: body.userId,
          items: body.items,
          paymentMethods: body.paymentMethods ?? [],
          usePoints: body.usePoints ?? false,
          quotedAtMs,
          legacy: legacyOf(body.legacy),
        });
        return { status: 201, body: shadowView(record) };
      });
    },
  });

  app.get('/admin/shadow/report', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Shadow quotes: the agreement rate per station and scene, and each difference with both breakdowns side by side (oldest first; page with cursor)',
      querystring: ReportQuery,
      response: {
        200: Type.Object({
          groups: Type.Array(Type.Object({ stationId: Type.String(), scene: Type.String(), ...AgreementSchema.properties })),
          total: AgreementSchema,
          differences: Type.Array(ShadowQuoteViewSchema),
          nextCursor: Type.Union([Type.String(), Type.Null()]),
        }),
        ...errorResponses,
      },
    },
    handler: async (req) => {
      const q = req.query;
      const scope = merchantsOf(req);
      const merchantIds = q.merchantId !== undefined ? (scope === null || scope.includes(q.merchantId) ? [q.merchantId] : []) : scope;
      const limit = Math.min(200, Math.max(1, Number(q.limit ?? 50)));
      const filter = {
        merchantIds,
        stationId: q.stationId ?? null,
        scene: q.scene ?? null,
        fromMs: q.from !== undefined ? instant('from', q.from) : null,
        toMs: q.to !== undefined ? instant('to', q.to) : null,
      };
      const report = await tc.shadow.report(filter, limit, q.cursor ?? null).catch((err: unknown) => {
        if (err instanceof RangeError) throw new TradeError('INVALID_REQUEST', `cursor: ${err.message}`);
        throw err;
      });
      return { ...report, differences: report.differences.map(shadowView) };
    },
  });
};
