import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { DISCREPANCY_KINDS } from '../../domain/reconciliation/match.ts';
import { TradeError } from '../../domain/errors.ts';
import { BillUnusableError } from '../../runtime/parsed-bills.ts';
import type { ReconciliationDay } from '../../runtime/reconciler.ts';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import type { StoredDiscrepancy } from '../../storage/types.ts';
import { keyOf, merchantsOf } from '../auth.ts';
import { errorResponses } from '../schemas.ts';

const Channel = Type.Union([Type.Literal('wechat'), Type.Literal('alipay'), Type.Literal('unionpay'), Type.Literal('senseless')], { description: 'a channel that publishes a daily bill' });
const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'the China-time day YYYY-MM-DD' });
const DayParams = Type.Object({ channel: Channel, date: Day });

const Resolution = Type.Object(
  {
    by: Type.String({ description: 'the API key that decided, or `reconciler` for an automatic fix' }),
    accept: Type.Optional(Type.Union([Type.Literal('channel'), Type.Literal('platform')])),
    note: Type.String(),
    at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

const DiscrepancySchema = Type.Object(
  {
    id: Type.String({ description: '<channel>:<day>:<kind>:<ref>: the same difference found again is the same one' }),
    channel: Type.String(),
    day: Type.String(),
    kind: Type.Unsafe<string>({ type: 'string', enum: [...DISCREPANCY_KINDS] }),
    ref: Type.String({ description: 'the payment leg or refund leg number both sides share' }),
    txnNo: Type.Union([Type.String(), Type.Null()]),
    status: Type.Union([Type.Literal('open'), Type.Literal('auto-fixed'), Type.Literal('resolved')]),
    evidence: Type.Object({}, { additionalProperties: true, description: "both sides' rows: `bill` (the channel's) and `platform` (ours), amounts in fen" }),
    resolution: Type.Union([Resolution, Type.Null()]),
    foundAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

const DaySchema = Type.Object(
  {
    channel: Channel,
    day: Type.String(),
    ranAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    clean: Type.Union([Type.Boolean(), Type.Null()], { description: 'the last run matched every row of both sides; null: never ran' }),
    totals: Type.Union([Type.Record(Type.String(), Type.Integer(), { description: 'the last run: bill and platform rows and sums in fen, matched, discrepancies' }), Type.Null()]),
    open: Type.Integer({ minimum: 0 }),
    byKind: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
    discrepancies: Type.Array(DiscrepancySchema),
  },
  { additionalProperties: false },
);

const iso = (ms: number) => new Date(ms).toISOString();

function discrepancyView(d: StoredDiscrepancy) {
  return { ...d, resolution: d.resolution ? { ...d.resolution, at: iso(d.resolution.at) } : null, foundAt: iso(d.foundAt) };
}

function dayView(d: ReconciliationDay) {
  return { ...d, ranAt: d.ranAt === null ? null : iso(d.ranAt), discrepancies: d.discrepancies.map(discrepancyView) };
}

/** A real calendar day, not merely its shape (2026-02-30 is refused). */
function checkedDay(day: string): string {
  const ms = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== day) throw new TradeError('INVALID_REQUEST', `${day} is not a calendar day`);
  return day;
}

/** A reconciliation day lists every merchant's payments: only a key for every merchant may see or decide it. */
function everyMerchant(req: FastifyRequest): void {
  if (merchantsOf(req) !== null) throw new TradeError('FORBIDDEN', 'reconciliation spans merchants: only a key for every merchant may use it');
}

/** Reconciliation (API.md): a channel day's record, running it, and a person's decision on a discrepancy. `admin` scope. */
export const reconciliationRoutes: FastifyPluginAsyncTypebox<{ tc: TradeCenter }> = async (app, { tc }) => {
  app.get('/admin/reconciliation/:channel/:date', {
    config: { scope: 'admin' },
    schema: {
      summary: "One day's reconciliation: totals both sides, matched, discrepancies by kind",
      params: DayParams,
      response: { 200: DaySchema, ...errorResponses },
    },
    handler: async (req) => {
      everyMerchant(req);
      return dayView(await tc.reconciler.day(req.params.channel, checkedDay(req.params.date)));
    },
  });

  app.post('/admin/reconciliation/:channel/:date/run', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Run (or re-run) a day: download and check the bill, match it, record and act on what is new; a re-run changes nothing already found',
      params: DayParams,
      response: {
        200: Type.Object({
          day: DaySchema,
          added: Type.Array(Type.String(), { description: 'discrepancies this run found first' }),
          autoFixed: Type.Array(Type.String(), { description: 'of those, the ones the transaction now agrees with the channel on' }),
        }, { additionalProperties: false }),
        ...errorResponses,
      },
    },
    handler: async (req) => {
      everyMerchant(req);
      const day = checkedDay(req.params.date);
      try {
        const run = await tc.reconciler.run(req.params.channel, day);
        return { day: dayView(await tc.reconciler.day(req.params.channel, day)), added: run.added, autoFixed: run.autoFixed };
      } catch (err) {
        if (err instanceof BillUnusableError) {
          throw err.reason === 'not-ready'
            ? new TradeError('BILL_NOT_READY', err.message)
            : new TradeError('BILL_UNUSABLE', err.message, { reason: err.reason });
        }
        throw err;
      }
    },
  });

  app.post('/admin/reconciliation/discrepancies/:id/resolve', {
    config: { scope: 'admin' },
    schema: {
      summary: "A person's decision on an open discrepancy: whose side is right, and why (journalled with the key that decided)",
      params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) }),
      body: Type.Object({ accept: Type.Union([Type.Literal('channel'), Type.Literal('platform')]), note: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false }),
      response: { 200: DiscrepancySchema, ...errorResponses },
    },
    handler: async (req) => {
      everyMerchant(req);
      const outcome = await tc.reconciler.resolve(req.params.id, req.body.accept, req.body.note, keyOf(req).id);
      if (outcome.ok) return discrepancyView(outcome.discrepancy);
      if (outcome.code === 'not-found') throw new TradeError('NOT_FOUND', `no discrepancy ${req.params.id}`);
      throw new TradeError('DISCREPANCY_CLOSED', `discrepancy ${req.params.id} is already ${outcome.discrepancy.status}`, { discrepancy: discrepancyView(outcome.discrepancy) });
    },
  });
};
