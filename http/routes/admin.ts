import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { TradeError } from '../../domain/errors.ts';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import { merchantsOf, noTransaction, visibleTo, visibleTransaction } from '../auth.ts';
import { errorResponses, listFilter, ListFilterQuery, TxnParams } from '../schemas.ts';
import { taskViews } from './transactions.ts';

const Open = Type.Object({}, { additionalProperties: true });

/** The admin API (API.md): list and find stuck work, retry dead tasks, nudge a transaction. `admin` scope. */
export const adminRoutes: FastifyPluginAsyncTypebox<{ tc: TradeCenter }> = async (app, { tc }) => {
  app.get('/admin/transactions', {
    config: { scope: 'admin' },
    schema: {
      summary: 'List transactions (newest first); filter by state or needsAttention; page with cursor',
      querystring: Type.Object(
        { ...ListFilterQuery, cursor: Type.Optional(Type.String({ maxLength: 64 })) },
        { additionalProperties: false },
      ),
      response: { 200: Open, ...errorResponses },
    },
    handler: async (req) => {
      const filter = listFilter(req.query);
      const merchantIds = merchantsOf(req);
      const rows = await tc.storage.admin.listTransactions({ ...filter, ...(req.query.cursor ? { before: req.query.cursor } : {}), ...(merchantIds ? { merchantIds } : {}) });
      return { items: rows.map((r) => ({ ...r, updatedAt: new Date(r.updatedAt).toISOString() })), nextCursor: rows.length === filter.limit ? rows.at(-1)?.txnNo : null };
    },
  });

  app.post('/admin/transactions/:txnNo/tasks/:task/retry', {
    config: { scope: 'admin' },
    schema: { summary: 'Manual retry of a dead task', params: Type.Object({ txnNo: Type.String(), task: Type.String() }), response: { 200: Open, ...errorResponses } },
    handler: async (req) => {
      await visibleTransaction(tc.host, req, req.params.txnNo);
      const task = await tc.tasks.retry(req.params.txnNo, req.params.task);
      if (!task) throw new TradeError('INVALID_STATE', `task ${req.params.task} of ${req.params.txnNo} is not dead (or does not exist)`);
      return { task: (await taskViews(tc, req.params.txnNo)).find((t) => t.task === req.params.task) };
    },
  });

  app.get('/admin/tasks/dead', {
    config: { scope: 'admin' },
    schema: { summary: 'Dead post-payment tasks (out of attempts, waiting for a manual retry); on Redis, the failed BullMQ jobs', response: { 200: Open, ...errorResponses } },
    handler: async (req) => {
      if (tc.scaleOut) {
        const jobs = await tc.scaleOut.scheduler.deadJobs();
        const visible = await Promise.all(jobs.map(async (j) => {
          const merchantId = (await tc.reads.record(j.txnNo))?.merchantId;
          return merchantId !== undefined && visibleTo(req, merchantId);
        }));
        return { items: jobs.filter((_j, i) => visible[i]) };
      }
      const merchantIds = merchantsOf(req);
      const flagged = await tc.storage.admin.listTransactions({ needsAttention: true, limit: 200, ...(merchantIds ? { merchantIds } : {}) });
      const tasks = (await Promise.all(flagged.map((r) => tc.storage.tasks.tasksOf(r.txnNo)))).flat().filter((t) => t.status === 'dead');
      return { items: tasks.map((t) => ({ txnNo: t.txnNo, task: t.task, attemptsMade: t.attempts, failedReason: t.lastError, failedAt: new Date(t.updatedAt).toISOString() })) };
    },
  });

  app.get('/admin/queues', {
    config: { scope: 'admin' },
    schema: { summary: 'The BullMQ queues (timers, post-payment tasks): jobs by state; on SQLite, the store is polled and there are none', response: { 200: Open, ...errorResponses } },
    handler: async (req) => {
      if (!tc.scaleOut) return { scheduler: 'polling' };
      return { scheduler: 'bullmq', queues: await tc.scaleOut.scheduler.queueCounts(), sentinel: { ...tc.sentinel.counters, flagged: tc.sentinel.stuckCount() } };
    },
  });

  app.post('/admin/transactions/:txnNo/nudge', {
    config: { scope: 'admin' },
    schema: { summary: 'Rehydrate and re-drive a transaction: fire its due timers, run its due tasks', params: TxnParams, response: { 200: Open, ...errorResponses } },
    handler: async (req) => {
      // Checked before the nudge: rehydrating another merchant's transaction is already acting on it.
      await visibleTransaction(tc.host, req, req.params.txnNo);
      const view = await tc.host.nudge(req.params.txnNo);
      if (!view) throw noTransaction(req.params.txnNo);
      await tc.tasks.runDue();
      return { ...view, tasks: await taskViews(tc, req.params.txnNo) };
    },
  });
};
