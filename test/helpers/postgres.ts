import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Test } from 'tap';

/** The machine's PostgreSQL (started before each session): trust auth on loopback. */
const SERVER = process.env.TRADE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432';

/**
 * A database of the test's own (`tc_test_<random>`), dropped at teardown with whatever is
 * connected to it. Nothing else on the server is touched. Returns its URL.
 */
export async function createTestDatabase(t: Test): Promise<string> {
  const name = `tc_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${SERVER}/postgres` });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  t.teardown(async () => {
    const dropper = new pg.Client({ connectionString: `${SERVER}/postgres` });
    await dropper.connect();
    try {
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await dropper.end();
    }
  });
  return `${SERVER}/${name}`;
}
