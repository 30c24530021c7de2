-- The order archive (DOMAIN.md "Archive"; docs/archive-storage.md). Numbers and keys sort
-- byte-wise (COLLATE "C"), as every other backend and the cursor compare them.

-- One row per archived transaction: its final record and journal, and the version rule's key.
CREATE TABLE archive_records (
  txn_no        text COLLATE "C" PRIMARY KEY,
  version       bigint  NOT NULL,
  created_at    bigint  NOT NULL,
  record        json    NOT NULL,
  journal       json    NOT NULL,
  journal_count integer NOT NULL
);

-- The flat rows queries read, partitioned by month of creation (epoch ms, UTC months);
-- partitions are created on demand before a put that needs them (storage/postgres/partitions.ts).
CREATE TABLE archive_orders (
  txn_no       text COLLATE "C" NOT NULL,
  version      bigint NOT NULL,
  order_no     text COLLATE "C",
  origin       text NOT NULL,
  os_order_no  text COLLATE "C",
  merchant_id  text COLLATE "C" NOT NULL,
  station_id   text COLLATE "C" NOT NULL,
  scene        text NOT NULL,
  user_id      text,
  state        text NOT NULL,
  original_fen bigint NOT NULL,
  discount_fen bigint NOT NULL,
  payable_fen  bigint NOT NULL,
  paid_fen     bigint NOT NULL,
  refunded_fen bigint NOT NULL,
  created_at   bigint NOT NULL,
  paid_at      bigint,
  finished_at  bigint NOT NULL,
  -- The China-time (UTC+8) date of created_at: what the summary groups by.
  day          date   NOT NULL,
  legs         json   NOT NULL,
  refunds      json   NOT NULL,
  PRIMARY KEY (txn_no, created_at)
) PARTITION BY RANGE (created_at);

-- A safety net: a row no month partition takes. Puts create their month first, so it stays empty.
CREATE TABLE archive_orders_default PARTITION OF archive_orders DEFAULT;

-- One index per filter of API.md GET /admin/orders, each ending in the listing's order.
CREATE INDEX archive_orders_created  ON archive_orders (created_at, txn_no);
CREATE INDEX archive_orders_merchant ON archive_orders (merchant_id, created_at, txn_no);
CREATE INDEX archive_orders_station  ON archive_orders (station_id, created_at, txn_no);
CREATE INDEX archive_orders_scene    ON archive_orders (scene, created_at, txn_no);
CREATE INDEX archive_orders_state    ON archive_orders (state, created_at, txn_no);
CREATE INDEX archive_orders_origin   ON archive_orders (origin, created_at, txn_no);
CREATE INDEX archive_orders_order_no ON archive_orders (order_no) WHERE order_no IS NOT NULL;
CREATE INDEX archive_orders_os       ON archive_orders (station_id, os_order_no) WHERE os_order_no IS NOT NULL;

-- Payment legs as rows: the method filter (txn_no, method) and reconciliation's movements.
CREATE TABLE archive_legs (
  txn_no           text COLLATE "C" NOT NULL,
  leg_no           integer NOT NULL,
  method           text COLLATE "C" NOT NULL,
  amount_fen       bigint  NOT NULL,
  captured_at      bigint,
  payment_no       text COLLATE "C" NOT NULL,
  channel_trade_no text,
  merchant_id      text COLLATE "C" NOT NULL,
  station_id       text COLLATE "C" NOT NULL,
  PRIMARY KEY (txn_no, leg_no)
);
CREATE INDEX archive_legs_method   ON archive_legs (txn_no, method);
CREATE INDEX archive_legs_captured ON archive_legs (method, captured_at, txn_no, leg_no) WHERE captured_at IS NOT NULL;

CREATE TABLE archive_refund_legs (
  txn_no           text COLLATE "C" NOT NULL,
  refund_leg_no    text COLLATE "C" NOT NULL,
  payment_no       text COLLATE "C" NOT NULL,
  method           text COLLATE "C" NOT NULL,
  amount_fen       bigint NOT NULL,
  refunded_at      bigint,
  channel_trade_no text,
  merchant_id      text COLLATE "C" NOT NULL,
  station_id       text COLLATE "C" NOT NULL,
  PRIMARY KEY (txn_no, refund_leg_no)
);
CREATE INDEX archive_refund_legs_refunded ON archive_refund_legs (method, refunded_at, txn_no, refund_leg_no) WHERE refunded_at IS NOT NULL;
