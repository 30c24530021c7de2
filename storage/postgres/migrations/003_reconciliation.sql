-- Reconciliation records (issue 19): a run per channel day, and the discrepancies found.
CREATE TABLE recon_runs (
  channel text NOT NULL, day text NOT NULL, ran_at bigint NOT NULL, totals text NOT NULL, carry text NOT NULL,
  PRIMARY KEY (channel, day)
);
CREATE TABLE recon_discrepancies (
  id text PRIMARY KEY, channel text NOT NULL, day text NOT NULL, kind text NOT NULL, ref text NOT NULL, txn_no text,
  evidence text NOT NULL, status text NOT NULL CHECK (status IN ('open', 'auto-fixed', 'resolved')), resolution text, found_at bigint NOT NULL
);
CREATE INDEX recon_discrepancies_day ON recon_discrepancies (channel, day, found_at, id);
