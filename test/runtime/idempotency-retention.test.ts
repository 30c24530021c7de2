import t from 'tap';
import { idempotencyRetentionFromEnv } from '../../runtime/idempotency-purge.ts';
import { ConfigError } from '../../runtime/systems-config.ts';
import { DEFAULT_CONFIG } from '../../runtime/trade-center.ts';

t.test('idempotency records are kept 24 hours unless TRADE_IDEMPOTENCY_RETENTION_HOURS says otherwise', async (t) => {
  t.equal(DEFAULT_CONFIG.idempotency.retentionMs, 24 * 3_600_000);
  t.equal(idempotencyRetentionFromEnv({}), undefined, 'unset: the default applies');
  t.equal(idempotencyRetentionFromEnv({ TRADE_IDEMPOTENCY_RETENTION_HOURS: '48' }), 48 * 3_600_000);
  t.equal(idempotencyRetentionFromEnv({ TRADE_IDEMPOTENCY_RETENTION_HOURS: '0.5' }), 30 * 60_000, 'fractions of an hour');
});

function problemsOf(value: string): string[] {
  try {
    idempotencyRetentionFromEnv({ TRADE_IDEMPOTENCY_RETENTION_HOURS: value });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

t.test('a retention that is not a positive number of hours is a configuration error naming the key', async (t) => {
  for (const value of ['0', '-1', 'abc', '', ' ', '24h', 'Infinity', '1e300']) {
    t.same(problemsOf(value), [`TRADE_IDEMPOTENCY_RETENTION_HOURS: not a positive number of hours: ${JSON.stringify(value)}`], JSON.stringify(value));
  }
});
