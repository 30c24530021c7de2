import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { TradeError } from '../../domain/errors.ts';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import { authenticate } from '../auth.ts';
import { errorResponses, listFilter, ListFilterQuery, TxnParams } from '../schemas.ts';
import { taskViews } from './transactions.ts';

const Open = Type.Object({}, { additionalProperties: true });

/** The admin API (API.md): list and find stuck work, retry dead tasks, nudge a transaction. `admin` scope. */
export const adminRoutes: FastifyPluginAsyncTypebox<{ tc: TradeCenter }> = async (app, { tc }) => {
  app.get('/admin/transactions', {
    schema: {
      summary: 'List transactions (newest first); filter by state or needsAttention; page with cursor',
      querystring: Type.Object(
        { ...ListFilterQuery, cursor: Type.Optional(Type.String({ maxLength: 64 })) },
        { additionalProperties: false },
      ),
      response: { 200: Open, ...errorResponses },
    },
    handler: async (req) => {
      authenticate(tc.apiKeys, req, 'admin');
      const filter = listFilter(req.query);
      const rows = await tc.storage.admin.listTransactions({ ...filter, ...(req.query.cursor ? { before: req.query.cursor } : {}) });
      return { items: rows.map((r) => ({ ...r, updatedAt: new Date(r.updatedAt).toISOString() })), nextCursor: rows.length === filter.limit ? rows.at(-1)?.txnNo : null };
    },
  });

  app.post('/admin/transactions/:txnNo/tasks/:task/retry', {
    schema: { summary: 'Manual retry of a dead task', params: Type.Object({ txnNo: Type.String(), task: Type.String() }), response: { 200: Open, ...errorResponses } },
    handler: async (req) => {
      authenticate(tc.apiKeys, req, 'admin');
      const task = await tc.tasks.retry(req.params.txnNo, req.params.task);
      if (!task) throw new TradeError('INVALID_STATE', `task ${req.params.task} of ${req.params.txnNo} is not dead (or does not exist)`);
      return { task: (await taskViews(tc, req.params.txnNo)).find((t) => t.task === req.params.task) };
    },
  });

  app.get('/admin/tasks/dead', {
    schema: { summary: 'Dead post-payment tasks (out of attempts, waiting for a manual retry); on Redis, the failed BullMQ jobs', response: { 200: Open, ...errorResponses } },
    handler: async (req) => {
      authenticate(tc.apiKeys, req, 'admin');
      if (tc.scaleOut) return { items: await tc.scaleOut.scheduler.deadJobs() };
      const flagged = await tc.storage.admin.listTransactions({ needsAttention: true, limit: 200 });
      const tasks = (await Promise.all(flagged.map((r) => tc.storage.tasks.tasksOf(r.txnNo)))).flat().filter((t) => t.status === 'dead');
      return { items: tasks.map((t) => ({ txnNo: t.txnNo, task: t.task, attemptsMade: t.attempts, failedReason: t.lastError, failedAt: new Date(t.updatedAt).toISOString() })) };
    },
  });

  app.get('/admin/queues', {
    schema: { summary: 'The BullMQ queues (timers, post-payment tasks): jobs by state; on SQLite, the store is polled and there are none', response: { 200: Open, ...errorResponses } },
    handler: async (req) => {
      authenticate(tc.apiKeys, req, 'admin');
      if (!tc.scaleOut) return { scheduler: 'polling' };
      return { scheduler: 'bullmq', queues: await tc.scaleOut.scheduler.queueCounts(), sentinel: { ...tc.sentinel.counters, flagged: tc.sentinel.stuckCount() } };
    },
  });

  app.post('/admin/transactions/:txnNo/nudge', {
    schema: { summary: 'Rehydrate and re-drive a transaction: fire its due timers, run its due tasks', params: TxnParams, response: { 200: Open, ...errorResponses } },
    handler: async (req) => {
      authenticate(tc.apiKeys, req, 'admin');
      const view = await tc.host.nudge(req.params.txnNo);
      if (!view) throw new TradeError('NOT_FOUND', `no transaction ${req.params.txnNo}`);
      await tc.tasks.runDue();
      return { ...view, tasks: await taskViews(tc, req.params.txnNo) };
    },
  });
};
