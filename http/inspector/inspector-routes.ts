import { readFileSync } from 'node:fs';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { statechartGraph } from '../../runtime/statechart-graph.ts';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { merchantsOf, noTransaction, visibleTo } from '../auth.ts';
import { taskViews } from '../routes/transactions.ts';
import { errorResponses, listFilter, ListFilterQuery, TxnParams } from '../schemas.ts';
import { actorTree, placeJournal } from './actor-tree.ts';
import { MACHINES_BY_ID } from '../../machines/registry.ts';
import { restoreSnapshot } from '../../machines/snapshot-versions.ts';
import { layoutStatechart, type StatechartLayout } from './statechart-layout.ts';

const Open = Type.Object({}, { additionalProperties: true });

/** The page's own files: plain HTML, CSS and browser JavaScript, no build step and nothing from a CDN. */
const ASSETS: Record<string, { file: string; type: string }> = {
  '/inspect': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/inspect/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/inspect/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/**
 * The page loads only its own files and talks only to its own origin: a script injected through
 * data it shows (a merchant name, a journal entry) could neither load code nor send the admin key
 * anywhere. No framing (clickjacking a nudge button), and no guessing of content types.
 */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

/** A row of the inspector's transaction list. */
function summary(view: TransactionView) {
  return {
    txnNo: view.txnNo,
    orderNo: view.orderNo,
    state: view.state,
    stateValue: view.stateValue,
    scene: view.scene,
    merchantId: view.merchantId,
    payableAmount: view.payableAmount,
    paidAmount: view.paidAmount,
    refundedAmount: view.refundedAmount,
    needsAttention: view.needsAttention,
    needsReview: view.needsReview,
    legs: view.legs.map((l) => ({ legNo: l.legNo, method: l.method, amount: l.amount, status: l.status })),
    updatedAt: view.updatedAt,
  };
}

/**
 * The statechart inspector (API.md `GET /inspect`): the page and the JSON it reads. The page is
 * static and needs no key; its data (`/inspect/api/…`) needs the `admin` scope, as do the admin
 * routes it calls to nudge and retry and the event stream that keeps it live.
 */
export const inspectorRoutes: FastifyPluginAsyncTypebox<{ tc: TradeCenter }> = async (app, { tc }) => {
  for (const [url, asset] of Object.entries(ASSETS)) {
    const body = readFileSync(new URL(`./static/${asset.file}`, import.meta.url), 'utf8');
    app.get(url, { schema: { summary: 'The statechart inspector page and its assets; no key needed (its data is asked for with one)', security: [] } }, async (_req, reply) =>
      reply.type(asset.type).headers(PAGE_HEADERS).send(body),
    );
  }

  // Laid out once per process: a machine's picture changes only with its definition.
  let layouts: Promise<Record<string, StatechartLayout>> | null = null;
  const statecharts = () => {
    layouts ??= Promise.all(Object.entries(MACHINES_BY_ID).map(async ([name, machine]) => [name, await layoutStatechart(statechartGraph(machine))] as const)).then(
      (entries) => Object.fromEntries(entries),
      (err: unknown) => {
        layouts = null; // a failed layout is tried again by the next request, not remembered
        throw err;
      },
    );
    return layouts;
  };

  app.get('/inspect/api/statecharts', {
    config: { scope: 'admin' },
    schema: { summary: 'Every machine of a transaction tree, laid out for drawing', response: { 200: Open, ...errorResponses } },
    handler: async (req) => {
      return { statecharts: await statecharts() };
    },
  });

  app.get('/inspect/api/transactions', {
    config: { scope: 'admin' },
    schema: {
      summary: 'Transactions for the inspector list (newest first); filters as GET /admin/transactions, or q = a txnNo or orderNo',
      querystring: Type.Object(
        { ...ListFilterQuery, q: Type.Optional(Type.String({ maxLength: 64 })) },
        { additionalProperties: false },
      ),
      response: { 200: Open, ...errorResponses },
    },
    handler: async (req) => {
      const q = req.query.q?.trim();
      if (q) {
        const found = (await tc.host.view(q)) ?? (await tc.host.viewByOrderNo(q));
        return { items: found && visibleTo(req, found.merchantId) ? [summary(found)] : [] };
      }
      const merchantIds = merchantsOf(req);
      const rows = await tc.storage.admin.listTransactions({ ...listFilter(req.query), ...(merchantIds ? { merchantIds } : {}) });
      const views = await Promise.all(rows.map((r) => tc.host.view(r.txnNo)));
      return { items: views.flatMap((v) => (v ? [summary(v)] : [])) };
    },
  });

  app.get('/inspect/api/transactions/:txnNo', {
    config: { scope: 'admin' },
    schema: {
      summary: 'One transaction for the inspector: its view and tasks, its actor tree, its journal placed on the tree',
      params: TxnParams,
      response: { 200: Open, ...errorResponses },
    },
    handler: async (req) => {
      // Transitions are published before their snapshot is written: wait for the write, so the
      // page refreshing on an event reads the state that event produced.
      await tc.host.settle().catch(() => undefined);
      const record = await tc.reads.record(req.params.txnNo);
      const view = await tc.host.view(req.params.txnNo);
      if (!record || !view || !visibleTo(req, view.merchantId)) throw noTransaction(req.params.txnNo);
      // Drawn on this version's statecharts: an older snapshot as it restores; a newer one as stored (its states may not all be drawn).
      const restored = restoreSnapshot(record.snapshot);
      const actors = actorTree(restored.ok ? restored.snapshot : record.snapshot);
      return {
        view: { ...view, tasks: await taskViews(tc, view.txnNo) },
        timers: Object.entries(record.timers).map(([name, dueAt]) => ({ name, dueAt })),
        actors,
        journal: placeJournal(await tc.reads.journal(view.txnNo), actors),
      };
    },
  });
};
