import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { TradeError } from '../../domain/errors.ts';
import type { OsStationStatus } from '../../runtime/os-sync.ts';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import type { OsGroupChange } from '../../storage/types.ts';
import { keyOf, merchantsOf } from '../auth.ts';
import { errorResponses } from '../schemas.ts';

const Name = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' });
const Iso = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const Cursor = Type.Object({
  stationId: Type.String(),
  group: Type.Union([Type.String(), Type.Null()]),
  readsOnline: Type.Boolean({ description: "the station's group reads the online orders: its events are recorded, not delivered" }),
  deliveredSeq: Type.Integer({ description: 'last station sequence OS acknowledged' }),
  deliveredAt: Iso,
  headSeq: Type.Integer({ description: 'highest station sequence recorded' }),
  pending: Type.Integer(),
  failures: Type.Integer({ description: "failed deliveries in a row (this process's)" }),
  lastError: Type.Union([Type.String(), Type.Null()]),
  retryAt: Iso,
});
const Change = Type.Object({ seq: Type.Integer(), group: Type.String(), readsOnline: Type.Boolean(), by: Type.String(), at: Type.String({ format: 'date-time' }) });

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const cursorView = (s: OsStationStatus) => ({ ...s, deliveredAt: iso(s.deliveredAt), retryAt: iso(s.retryAt) });
const changeView = (c: OsGroupChange) => ({ ...c, at: new Date(c.at).toISOString() });

/** A resync's start: a day (`2026-12-01`, from midnight at the stations, UTC+8) or a time with its offset. */
export function parseResyncFrom(from: string): number | null {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(from) ? Date.parse(`${from}T00:00:00+08:00`) : Date.parse(from);
  return Number.isFinite(ms) ? ms : null;
}

/** OS order sync (issue 20; docs/os-sync.md): cursors per station, resync, and the per-group switch. */
export const osRoutes: FastifyPluginAsyncTypebox<{ tc: TradeCenter }> = async (app, { tc }) => {
  // Stations and groups span merchants: only a key for every merchant sees or moves them.
  const everyMerchant = (req: Parameters<typeof merchantsOf>[0]) => {
    if (merchantsOf(req) !== null) throw new TradeError('FORBIDDEN', 'only a key for every merchant may see or change the OS sync');
  };

  app.get('/admin/os/cursors', {
    config: { scope: 'admin' },
    schema: {
      summary: "Each station's OS sync cursor: delivered up to, when, pending, its group's switch, retries",
      response: { 200: Type.Object({ cursors: Type.Array(Cursor), readsOnlineGroups: Type.Array(Type.String()) }), ...errorResponses },
    },
    handler: async (req) => {
      everyMerchant(req);
      const [cursors, groups] = await Promise.all([tc.osSync.status(), tc.storage.osOutbox.readsOnlineGroups()]);
      return { cursors: cursors.map(cursorView), readsOnlineGroups: groups };
    },
  });

  app.post('/admin/os/resync', {
    config: { scope: 'admin' },
    schema: {
      summary: "Re-delivers a station's order events recorded since a date (OS is idempotent by order and event sequence)",
      body: Type.Object({ stationId: Name, from: Type.String({ minLength: 10, maxLength: 40 }) }, { additionalProperties: false }),
      response: { 200: Cursor, ...errorResponses },
    },
    handler: async (req) => {
      everyMerchant(req);
      const fromMs = parseResyncFrom(req.body.from);
      if (fromMs === null) throw new TradeError('INVALID_REQUEST', `from must be a day (2026-12-01) or a time with offset, got ${req.body.from}`);
      await tc.osSync.resync(req.body.stationId, fromMs);
      const status = (await tc.osSync.status()).find((s) => s.stationId === req.body.stationId);
      if (!status) throw new TradeError('NOT_FOUND', `station ${req.body.stationId} has no OS events`);
      return cursorView(status);
    },
  });

  app.get('/admin/os/groups', {
    config: { scope: 'admin' },
    schema: {
      summary: 'The groups whose OS reads the online orders, and the latest switch changes, newest first',
      querystring: Type.Object({ limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })) }, { additionalProperties: false }),
      response: { 200: Type.Object({ readsOnlineGroups: Type.Array(Type.String()), changes: Type.Array(Change) }), ...errorResponses },
    },
    handler: async (req) => {
      everyMerchant(req);
      const changes = await tc.osSync.groupChanges(Math.min(Number(req.query.limit ?? 20), 200));
      return { readsOnlineGroups: await tc.storage.osOutbox.readsOnlineGroups(), changes: changes.map(changeView) };
    },
  });

  app.put('/admin/os/groups/:group', {
    config: { scope: 'admin' },
    schema: {
      summary: "Switches a station group's OS to reading the online orders (syncing stops; events are still recorded), or back; journalled",
      params: Type.Object({ group: Name }),
      body: Type.Object({ readsOnline: Type.Boolean() }, { additionalProperties: false }),
      response: { 200: Type.Object({ change: Change }), ...errorResponses },
    },
    handler: async (req) => {
      everyMerchant(req);
      const change = await tc.osSync.switchGroup(req.params.group, req.body.readsOnline, keyOf(req).id);
      return { change: changeView(change) };
    },
  });
};
