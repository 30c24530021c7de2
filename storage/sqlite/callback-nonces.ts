import Database from 'better-sqlite3';
import type { CallbackNonces, NonceSighting } from '../types.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS callback_nonces (
  nonce       TEXT PRIMARY KEY,
  body_sha256 TEXT NOT NULL,
  expires_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS callback_nonces_expiry ON callback_nonces(expires_at);
`;

/** Expired rows deleted by each `remember`: a small steady sweep instead of a purge timer. */
const SWEEP = 100;

/**
 * Callback nonces in a table of the platform's SQLite file, on a connection of their own (the
 * file is in WAL mode, so it does not wait on the store's writes more than a row's worth). A
 * nonce lost in a power cut is harmless: its replay is one more duplicate callback, and those
 * change nothing (DESIGN.md rule 7).
 */
export class SqliteCallbackNonces implements CallbackNonces {
  private readonly db: Database.Database;
  private readonly rememberTx;
  private readonly forgetStmt;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    const sweep = this.db.prepare('DELETE FROM callback_nonces WHERE rowid IN (SELECT rowid FROM callback_nonces WHERE expires_at <= ? LIMIT ?)');
    // An expired row the sweep has not reached yet is taken over like an absent one.
    const insert = this.db.prepare(
      'INSERT INTO callback_nonces (nonce, body_sha256, expires_at) VALUES (?, ?, ?) ON CONFLICT (nonce) DO UPDATE SET body_sha256 = excluded.body_sha256, expires_at = excluded.expires_at WHERE callback_nonces.expires_at <= ?',
    );
    const find = this.db.prepare<[string], { body_sha256: string }>('SELECT body_sha256 FROM callback_nonces WHERE nonce = ?');
    this.rememberTx = this.db.transaction((nonce: string, bodySha256: string, nowMs: number, expiresAt: number): NonceSighting => {
      sweep.run(nowMs, SWEEP);
      if (insert.run(nonce, bodySha256, expiresAt, nowMs).changes === 1) return 'new';
      return find.get(nonce)?.body_sha256 === bodySha256 ? 'duplicate' : 'conflict';
    });
    this.forgetStmt = this.db.prepare('DELETE FROM callback_nonces WHERE nonce = ? AND body_sha256 = ?');
  }

  async remember(nonce: string, bodySha256: string, nowMs: number, expiresAt: number): Promise<NonceSighting> {
    // IMMEDIATE: the sweep, the insert and the read see one state of the table across processes.
    return this.rememberTx.immediate(nonce, bodySha256, nowMs, expiresAt);
  }

  async forget(nonce: string, bodySha256: string): Promise<void> {
    this.forgetStmt.run(nonce, bodySha256);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
