-- 001 as merged, brought to what the archive now writes:

-- Snapshots, journals and legs are kept as the JSON text they were given: the archive never reads
-- into them (DESIGN.md rule 9), and validating json cost a third of a put.
ALTER TABLE archive_records ALTER COLUMN record TYPE text USING record::text;
ALTER TABLE archive_records ALTER COLUMN journal TYPE text USING journal::text;
ALTER TABLE archive_orders ALTER COLUMN legs TYPE text USING legs::text;
ALTER TABLE archive_orders ALTER COLUMN refunds TYPE text USING refunds::text;

-- The transaction's task records (all done), for a refund after archiving.
ALTER TABLE archive_records ADD COLUMN tasks text NOT NULL DEFAULT '[]';
ALTER TABLE archive_records ALTER COLUMN tasks DROP DEFAULT;

-- The method filter of a rare method starts from the method; a common one walks the legs' key.
DROP INDEX archive_legs_method;
CREATE INDEX archive_legs_method ON archive_legs (method, txn_no);

-- One row per (order, method it has a leg of), with the order's filter columns as archive_orders
-- names them: the by-method summary scans this alone instead of grouping the legs per order.
CREATE TABLE archive_order_methods (
  txn_no       text COLLATE "C" NOT NULL,
  method       text COLLATE "C" NOT NULL,
  merchant_id  text COLLATE "C" NOT NULL,
  station_id   text COLLATE "C" NOT NULL,
  scene        text   NOT NULL,
  state        text   NOT NULL,
  origin       text   NOT NULL,
  created_at   bigint NOT NULL,
  day          date   NOT NULL,
  original_fen bigint NOT NULL,
  discount_fen bigint NOT NULL,
  payable_fen  bigint NOT NULL,
  paid_fen     bigint NOT NULL,
  refunded_fen bigint NOT NULL,
  PRIMARY KEY (txn_no, method)
);
CREATE INDEX archive_order_methods_created ON archive_order_methods (created_at);
CREATE INDEX archive_order_methods_merchant ON archive_order_methods (merchant_id, created_at);

INSERT INTO archive_order_methods
SELECT o.txn_no, m.method, o.merchant_id, o.station_id, o.scene, o.state, o.origin, o.created_at, o.day,
  o.original_fen, o.discount_fen, o.payable_fen, m.paid, COALESCE(r.refunded, 0)
FROM archive_orders o
JOIN (SELECT txn_no, method, SUM(CASE WHEN captured_at IS NOT NULL THEN amount_fen ELSE 0 END) AS paid FROM archive_legs GROUP BY txn_no, method) m
  ON m.txn_no = o.txn_no
LEFT JOIN (SELECT txn_no, method, SUM(amount_fen) AS refunded FROM archive_refund_legs WHERE refunded_at IS NOT NULL GROUP BY txn_no, method) r
  ON r.txn_no = m.txn_no AND r.method = m.method;
