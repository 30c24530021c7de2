import type { BillChannel } from '../../domain/reconciliation/bill-row.ts';
import { chinaDayBounds } from '../../domain/reconciliation/bill-format.ts';
import type { Simulators } from '../../systems/sim/index.ts';
import { key, openSims, type Cleanup } from '../systems/helpers.ts';

/** A clock a test moves by hand: the simulators read it, nothing else does. */
export class HandClock {
  constructor(public ms: number) {}
  now = (): number => this.ms;
}

export const DAY = '2026-12-01';
export const CHANNELS: readonly BillChannel[] = ['wechat', 'alipay', 'unionpay', 'senseless'];

/**
 * Simulators on a hand clock with a small day of sales on every async channel, China time:
 * paid payments through the day (one at 00:02 and one at 23:56 of D, one at 00:04 of D+1),
 * refunds of some (one settled at 23:58), one payment left pending and one closed.
 */
export async function simulatedDay(t: Cleanup, perChannel = 6): Promise<{ sims: Simulators; clock: HandClock }> {
  const { startMs, endMs } = chinaDayBounds(DAY);
  const clock = new HandClock(startMs);
  const sims = openSims(t, { clock });
  const gw = sims.systems.paymentGateway;
  const at = (ms: number) => { clock.ms = ms; };
  for (const channel of CHANNELS) {
    const times = [startMs + 2 * 60_000, ...Array.from({ length: perChannel - 2 }, (_, i) => startMs + (i + 1) * 3 * 3600_000), endMs - 4 * 60_000];
    for (const [i, time] of times.entries()) {
      const txnNo = `T${channel.slice(0, 2).toUpperCase()}${String(i).padStart(4, '0')}`;
      at(time);
      await gw.createPayment(key(txnNo, 'create'), {
        paymentNo: `${txnNo}-P1`, txnNo, merchantId: 'M1', channel, amountFen: 1250 + i * 333, description: '92# fuel, nozzle 3',
        expiresAt: new Date(time + 15 * 60_000).toISOString(),
      });
      await sims.gateway.pay(`${txnNo}-P1`);
      if (i % 2 === 1) {
        at(time + 60_000);
        await gw.refundPayment(key(txnNo, 'refund'), { paymentNo: `${txnNo}-P1`, refundNo: `R${txnNo}-1`, amountFen: 500 });
        await sims.gateway.deliverDue();
      }
    }
    // A refund the channel settles two minutes before midnight.
    const last = `T${channel.slice(0, 2).toUpperCase()}${String(times.length - 1).padStart(4, '0')}`;
    at(endMs - 2 * 60_000);
    await gw.refundPayment(key(last, 'refund-late'), { paymentNo: `${last}-P1`, refundNo: `R${last}-2`, amountFen: 300 });
    await sims.gateway.deliverDue();
    // The next day's first minutes, and two payments that never got paid.
    const next = `T${channel.slice(0, 2).toUpperCase()}N001`;
    at(endMs + 4 * 60_000);
    await gw.createPayment(key(next, 'create'), { paymentNo: `${next}-P1`, txnNo: next, merchantId: 'M1', channel, amountFen: 4000, description: 'car wash', expiresAt: new Date(clock.ms + 900_000).toISOString() });
    await sims.gateway.pay(`${next}-P1`);
    for (const [n, closed] of [['U001', false], ['U002', true]] as const) {
      const txnNo = `T${channel.slice(0, 2).toUpperCase()}${n}`;
      at(startMs + 5 * 3600_000 + (closed ? 60_000 : 0));
      await gw.createPayment(key(txnNo, 'create'), { paymentNo: `${txnNo}-P1`, txnNo, merchantId: 'M1', channel, amountFen: 2000, description: 'diesel', expiresAt: new Date(clock.ms + 900_000).toISOString() });
      if (closed) await gw.closePayment(key(txnNo, 'close'), { paymentNo: `${txnNo}-P1` });
    }
  }
  at(endMs + 3600_000);
  return { sims, clock };
}
