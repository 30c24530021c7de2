import t from 'tap';
import { FollowClock } from '../../systems/sim/follow-clock.ts';
import { simUrls } from '../../runtime/systems-config.ts';
import { ManualClock } from '../../runtime/clock.ts';
import { createHttpSystems } from '../../systems/http/index.ts';
import { startSimServer } from './sim-server.ts';

t.test('a follow clock keeps the real time until told, then the time it was sent', async (t) => {
  const clock = new FollowClock();
  t.ok(Math.abs(clock.now() - Date.now()) < 60_000, 'real time before any caller');
  clock.follow('1764043200000');
  t.equal(clock.now(), 1764043200000);
  clock.follow('yesterday');
  clock.follow(undefined);
  t.equal(clock.now(), 1764043200000, 'anything but epoch ms is ignored');
});

t.test('a trade sim on a follow clock judges at the caller’s time sent by the connector', async (t) => {
  const { url, server } = await startSimServer(t, { clock: 'follow' });
  const platformClock = new ManualClock(Date.parse('2030-01-01T00:00:00Z'));
  const remote = createHttpSystems({ urls: simUrls(url), poolSize: 1, timeoutMs: () => 2_000, sendClock: platformClock });
  t.teardown(() => remote.close());
  await remote.systems.user.getUser('U1');
  t.equal(server.clock.now(), platformClock.now());
  platformClock.advance(60_000);
  await remote.systems.storedValue.lock({ txnNo: 'TF', step: 'leg-1:lock' }, { lockKey: 'TF-P1', cardNo: 'C1', amountFen: 1 });
  t.equal(server.sims.store.effects({ key: 'TF:leg-1:lock' })[0]?.at, '2030-01-01T00:01:00.000Z', 'the effect is stamped with the caller’s time');
});
