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
 * the migrations, applied once at start (see {@link migrate}). Every query waits for them.
 */
export class PostgresHandle {
  readonly pool: pg.Pool;
  readonly schema: string;
  /** Settles once the schema is up to date; a failed migration fails every query. */
  readonly ready: Promise<void>;

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
    this.ready = migrate(this.pool, this.schema);
    // Awaited by every query; this keeps an unawaited failure from being an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  /** A query once the schema is ready. */
  async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    await this.ready;
    return this.pool.query<R>(text, values);
  }

  /** Runs `work` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.ready;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.ready.catch(() => undefined);
    await this.pool.end();
  }
}
