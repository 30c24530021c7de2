import t from 'tap';
import { ManualClock } from '../../runtime/clock.ts';
import type { TransactionView } from '../../runtime/view.ts';
import { eventually, orderedSale, startHarness } from '../helpers/harness.ts';
import { trade } from '../helpers/trade-binary.ts';

const DAY = '2026-12-01';

t.test('trade recon run, show and resolve work a channel day through the server, and refuse bad input with a clear line and exit 1 (issue 19)', async (t) => {
  const clock = new ManualClock(Date.parse(`${DAY}T23:47:00+08:00`));
  const h = await startHarness(t, { clock });
  const env = { TRADE_URL: h.url };
  const view = (txnNo: string) => h.api<TransactionView>('GET', `/v1/transactions/${txnNo}`);
  const paidSale = async () => {
    const ordered = await orderedSale(h.api, 'wechat');
    const paying = await h.api<TransactionView>('POST', `/v1/transactions/${ordered.txnNo}/payments`, { legs: [{ method: 'wechat', amount: ordered.payableAmount }] });
    await h.sims.gateway.pay(paying.body.legs[0]!.paymentNo);
    return { txnNo: ordered.txnNo, paymentNo: paying.body.legs[0]!.paymentNo };
  };
  const clean = await paidSale();
  await eventually(() => view(clean.txnNo), (r) => r.body.state === 'completed');
  h.tc.sims!.gateway.configureCallbacks({ dropCallbacks: true });
  const lost = await paidSale();

  const early = await trade(['recon', 'run', '--channel', 'wechat', '--date', DAY], env);
  t.equal(early.code, 1);
  t.match(early.stderr, /trade: BILL_NOT_READY: /, 'a day not over has no bill yet');

  clock.advance(Date.parse('2026-12-02T00:00:30+08:00') - clock.now());
  const ran = await trade(['recon', 'run', '--channel', 'wechat', '--date', DAY], env);
  t.equal(ran.code, 0, ran.stderr);
  t.match(ran.stdout, /ran wechat 2026-12-01: 1 new discrepancies, 1 fixed through their transactions/);
  t.match(ran.stdout, /platform_short_status/);
  await eventually(() => view(lost.txnNo), (r) => r.body.legs[0]!.status === 'succeeded');
  const rerun = await trade(['recon', 'run', '--channel', 'wechat', '--date', DAY, '--json'], env);
  t.match(JSON.parse(rerun.stdout), { added: [], autoFixed: [], day: { clean: true } }, 'a re-run changes nothing and finds the day clean');

  const planted = h.tc.sims!.bills.inject({ channel: 'wechat', date: DAY, kind: 'platform_short_amount', merchantRef: clean.paymentNo, deltaFen: 100 });
  await trade(['recon', 'run', '--channel', 'wechat', '--date', DAY], env);
  const id = `wechat:${DAY}:platform_short_amount:${planted.merchantRef}`;
  const shown = await trade(['recon', 'show', '--channel', 'wechat', '--date', DAY], env);
  t.equal(shown.code, 0, shown.stderr);
  t.match(shown.stdout, /wechat 2026-12-01: 1 discrepancies in the last run, 1 open/);
  t.match(shown.stdout, /by kind: platform_short_status 1, platform_short_amount 1/);
  t.ok(shown.stdout.includes(id), 'each discrepancy is listed by its id');

  const resolved = await trade(['recon', 'resolve', id, '--accept', 'channel', '--note', 'the channel paid 1 yuan more; finance agrees'], env);
  t.equal(resolved.code, 0, resolved.stderr);
  t.match(resolved.stdout, new RegExp(`resolved ${id}: channel accepted by demo \\(the channel paid 1 yuan more; finance agrees\\)`));
  const json = JSON.parse((await trade(['recon', 'show', '--channel', 'wechat', '--date', DAY, '--json'], env)).stdout) as { open: number; discrepancies: { id: string; status: string }[] };
  t.equal(json.open, 0);
  t.equal(json.discrepancies.find((d) => d.id === id)?.status, 'resolved');

  const refusals: [string, string[], RegExp][] = [
    ['resolving twice', ['recon', 'resolve', id, '--accept', 'platform', '--note', 'again'], /trade: DISCREPANCY_CLOSED: discrepancy .* is already resolved/],
    ['an unknown discrepancy', ['recon', 'resolve', 'wechat:2026-12-01:fee_mismatch:nope', '--accept', 'channel', '--note', 'x'], /trade: NOT_FOUND: no discrepancy/],
    ['an unknown channel', ['recon', 'show', '--channel', 'paypal', '--date', DAY], /option '--channel <channel>' argument 'paypal' is invalid. Allowed choices are wechat, alipay, unionpay, senseless/],
    ['a date that is no calendar day', ['recon', 'run', '--channel', 'wechat', '--date', '2026-02-30'], /not a calendar day YYYY-MM-DD: 2026-02-30/],
    ['a side that is neither', ['recon', 'resolve', id, '--accept', 'both', '--note', 'x'], /Allowed choices are channel, platform/],
  ];
  for (const [what, args, message] of refusals) {
    const res = await trade(args, env);
    t.equal(res.code, 1, `${what}: exit 1`);
    t.match(res.stderr, message, `${what}: says why`);
  }
});
