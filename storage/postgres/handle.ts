import pg from 'pg';
import { migrate, quoteIdent } from './migrate.ts';

/** Options of {@link PostgresHandle}. */
export interface PostgresOptions {
  /** `postgres://…` (`TRADE_ARCHIVE_URL`). */
  url: string;
  /** The schema the archive's tables live in (the connections' search_path); created if missing. Default `public`. */
  schema?: string;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
}

/** int8 (counts, fen, epoch ms), numeric (SUMs) and date read as what the archive's types say, not strings or Dates. */
const NUMERIC_OIDS = new Set([20, 1700]);
const DATE_OID = 1082;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (NUMERIC_OIDS.has(oid)) return (value: string) => Number(value);
    if (oid === DATE_OID) return (value: string) => value;
    return pg.types.getTypeParser(oid, format);
  }) as typeof pg.types.getTypeParser,
};

/**
 * The archive's shared PostgreSQL handle: a pool whose connections use the archive's schema, and
 * the migrations, applied at start (see {@link migrate}). Every query waits for them; when they
 * failed (the server was not up yet), the next query tries them again rather than the archive
 * staying broken until a restart.
 */
export class PostgresHandle {
  readonly pool: pg.Pool;
  readonly schema: string;
  private migrated: Promise<void>;
  private closed = false;

  constructor(options: PostgresOptions) {
    this.schema = options.schema ?? 'public';
    quoteIdent(this.schema);
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      // A server that does not answer fails a query (and readiness) instead of hanging it.
      connectionTimeoutMillis: 5_000,
      options: `-c search_path=${this.schema}`,
      types,
    });
    // An idle client's error (the server restarted) must not crash the process: the next query reconnects.
    this.pool.on('error', () => undefined);
    this.migrated = this.migrate();
  }

  private migrate(): Promise<void> {
    const attempt = migrate(this.pool, this.schema);
    // Awaited by every query; this keeps an unawaited failure from being an unhandled rejection.
    attempt.catch(() => undefined);
    return attempt;
  }

  /** Settles once the schema is up to date (trying the migrations again after a failed attempt). */
  async ready(): Promise<void> {
    try {
      await this.migrated;
    } catch (error) {
      if (this.closed) throw error;
      this.migrated = this.migrate();
      await this.migrated;
    }
  }

  /** A query once the schema is ready. */
  async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    await this.ready();
    return this.pool.query<R>(text, values);
  }

  /** Runs `work` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.ready();
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // A connection that cannot even roll back is dropped from the pool, not handed out again.
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.migrated.catch(() => undefined);
    await this.pool.end();
  }
}
