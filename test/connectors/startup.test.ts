import { join } from 'node:path';
import t from 'tap';
import { trade } from '../helpers/trade-binary.ts';



t.test('trade serve with a bad connector URL exits 1 naming the key', async (t) => {
  const dir = t.testdir();
  const res = await trade(['serve', '--port', '0', '--db', join(dir, 'a.db'), '--sim-db', join(dir, 'b.db')], {
    TRADE_SYSTEMS: 'http',
    TRADE_SIM_URL: 'http://127.0.0.1:1',
    TRADE_SYSTEM_URL_STORED_VALUE: 'not a url',
  });
  t.equal(res.code, 1);
  t.match(res.stderr, /^trade: invalid configuration: TRADE_SYSTEM_URL_STORED_VALUE: not an http\(s\) URL/);
  t.notMatch(res.stderr, /at .*\.ts:\d+/, 'no stack trace');
});

t.test('trade serve in http mode without URLs exits 1 naming a missing key', async (t) => {
  const dir = t.testdir();
  const res = await trade(['serve', '--port', '0', '--db', join(dir, 'a.db'), '--sim-db', join(dir, 'b.db')], { TRADE_SYSTEMS: 'http' });
  t.equal(res.code, 1);
  t.match(res.stderr, /TRADE_SYSTEM_URL_USER: missing/);
});

t.test('trade serve with a bad idempotency retention exits 1 naming the key', async (t) => {
  const dir = t.testdir();
  const res = await trade(['serve', '--port', '0', '--db', join(dir, 'a.db'), '--sim-db', join(dir, 'b.db')], { TRADE_IDEMPOTENCY_RETENTION_HOURS: 'soon' });
  t.equal(res.code, 1);
  t.match(res.stderr, /^trade: invalid configuration: TRADE_IDEMPOTENCY_RETENTION_HOURS: not a positive number of hours: "soon"/);
});

t.test('trade sim refuses a callback URL that is not http(s)', async (t) => {
  const dir = t.testdir();
  const res = await trade(['sim', '--port', '0', '--db', join(dir, 's.db'), '--callback-url', 'platform:3000'], {});
  t.not(res.code, 0);
  t.match(res.stderr, /--callback-url: not an http\(s\) URL/);
});
