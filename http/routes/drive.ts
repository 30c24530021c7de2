import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import { SYSTEM_NAMES } from '../../systems/http/operations.ts';

/**
 * `/_drive`: what a test on a manual clock does to an in-process Trade Center, for one running
 * as `trade serve --clock follow` (a test's api or worker process): run due tasks, fire due
 * timers, wait for saves, read the alerts and the circuit breakers, a transaction's stored
 * timers. Served only with `--clock follow`, which is never for production: it lets the caller
 * set the time.
 */
export const driveRoutes: FastifyPluginAsyncTypebox<{ tc: TradeCenter; runDueTasks: () => Promise<number> }> = async (app, { tc, runDueTasks }) => {
  const hidden = { hide: true, security: [] };
  app.post('/_drive/tasks/run-due', { schema: hidden }, async () => ({ ran: await runDueTasks() }));
  app.post('/_drive/timers/fire-due', { schema: hidden }, async () => ({ fired: await tc.host.fireDueTimers() }));
  app.post('/_drive/settle', { schema: hidden }, async () => {
    await tc.host.settle();
    return {};
  });
  app.get('/_drive/state', { schema: hidden }, async () => ({
    alerts: tc.host.alerts + tc.tasks.alerts,
    hostAlerts: tc.host.alerts,
    breakers: Object.fromEntries(SYSTEM_NAMES.map((s) => [s, tc.downstream.state(s)])),
  }));
  app.get('/_drive/transactions/:txnNo/timers', { schema: { ...hidden, params: Type.Object({ txnNo: Type.String() }) } }, async (req, reply) => {
    const record = await tc.reads.record(req.params.txnNo);
    if (!record) return reply.status(404).send({});
    return { timers: record.timers };
  });
};
