import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { type RoutingChange, type RoutingTable } from '../../domain/routing.ts';
import { TradeError } from '../../domain/errors.ts';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import { keyOf, merchantsOf } from '../auth.ts';
import { errorResponses } from '../schemas.ts';

const Mode = Type.Union([Type.Literal('legacy'), Type.Literal('shadow'), Type.Literal('live')]);
const Name = Type.String({ pattern: '^(\\*|[A-Za-z0-9][A-Za-z0-9_-]{0,63})$', description: 'a scene or station group, or * for every one' });
const Rule = Type.Object({ scene: Name, group: Name, mode: Mode }, { additionalProperties: false });
const Table = Type.Object({ default: Mode, rules: Type.Array(Rule) }, { additionalProperties: false });
const ChangeSchema = Type.Object({ seq: Type.Integer(), at: Type.String({ format: 'date-time' }), by: Type.String(), before: Table, after: Table });

/** `PUT /admin/routing`: pairs to set (merged into the table), or with `replace` the whole table. */
const PutBody = Type.Object(
  {
    rules: Type.Array(Rule, { maxItems: 500 }),
    default: Type.Optional(Mode),
    replace: Type.Optional(Type.Boolean({ description: 'the rules are the whole table (pairs not named go back to the default)' })),
  },
  { additionalProperties: false },
);

const changeView = (c: RoutingChange) => ({ ...c, at: new Date(c.at).toISOString() });
const tableView = (t: { table: RoutingTable; seq: number }) => ({ ...t.table, seq: t.seq });

/** Rollout routing (API.md): where a sale is taken, and the journalled changes of the table. */
export const routingRoutes: FastifyPluginAsyncTypebox<{ tc: TradeCenter }> = async (app, { tc }) => {
  app.get('/v1/routing', {
    config: { scope: 'trade' },
    schema: {
      summary: 'Where a sale of this scene at this station is taken: legacy, shadow or live',
      querystring: Type.Object({ scene: Type.String({ minLength: 1, maxLength: 32 }), stationId: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ scene: Type.String(), stationId: Type.String(), group: Type.Union([Type.String(), Type.Null()]), mode: Mode }), ...errorResponses },
    },
    handler: async (req) => {
      const route = await tc.routing.route(req.query.scene, req.query.stationId);
      return { scene: req.query.scene, stationId: req.query.stationId, ...route };
    },
  });

  app.get('/admin/routing', {
    config: { scope: 'admin' },
    schema: {
      summary: 'The routing table and its latest changes (who, when, before and after), newest first',
      querystring: Type.Object({ limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ table: Type.Object({ default: Mode, rules: Type.Array(Rule), seq: Type.Integer() }), changes: Type.Array(ChangeSchema) }), ...errorResponses },
    },
    handler: async (req) => {
      const changes = await tc.routing.history(Math.min(Number(req.query.limit ?? 20), 200));
      return { table: tableView(tc.routing.current()), changes: changes.map(changeView) };
    },
  });

  app.put('/admin/routing', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Change the routing table (journalled); an unchanged table records nothing',
      body: PutBody,
      response: { 200: Type.Object({ table: Type.Object({ default: Mode, rules: Type.Array(Rule), seq: Type.Integer() }), change: Type.Union([ChangeSchema, Type.Null()]) }), ...errorResponses },
    },
    handler: async (req) => {
      // Groups span merchants: only a key for every merchant may move them.
      if (merchantsOf(req) !== null) throw new TradeError('FORBIDDEN', 'only a key for every merchant may change the routing');
      const by = keyOf(req).id;
      const change = req.body.replace
        ? await tc.routing.replace(by, { default: req.body.default ?? 'live', rules: req.body.rules })
        : await tc.routing.set(by, req.body.rules, req.body.default);
      return { table: tableView(tc.routing.current()), change: change ? changeView(change) : null };
    },
  });
};
