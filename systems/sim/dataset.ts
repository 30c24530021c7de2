import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Coupon } from '../coupon/port.ts';
import type { Station } from '../fuel-catalog/port.ts';
import type { PointsRule } from '../points/port.ts';
import type { Promotion } from '../promotion/port.ts';
import type { User } from '../user/port.ts';

/** A dataset station: the catalog's station plus its nozzles (price in fen per litre). */
export interface DatasetStation extends Station {
  nozzles: { nozzleNo: number; grade: string; unitPrice: number }[];
}

/** A dataset promotion: the engine's promotion plus where it runs. */
export interface DatasetPromotion extends Promotion {
  merchantId: string;
  /** Absent: every station of the merchant. */
  stationIds?: string[];
}

/** A dataset user: the user system's member plus the growth value the level system keeps. */
export interface DatasetUser extends User {
  growth: number;
}

/** A member level of the level system: reached at `minGrowth` growth. */
export interface DatasetLevel {
  level: string;
  name: string;
  minGrowth: number;
}

/** A SKU on one station's shelf: price in fen, `stock` units on hand. */
export interface DatasetGoods {
  stationId: string;
  sku: string;
  name: string;
  category: string;
  priceFen: number;
  stock: number;
}

/** A coupon a user holds; `status` absent means available (a dataset holds no locks). */
export interface DatasetCoupon extends Omit<Coupon, 'status'> {
  status?: 'available' | 'used';
}

/** A user's points account: spendable balance and the rule for spending points as a discount. */
export interface DatasetPointsAccount {
  userId: string;
  balance: number;
  rule: PointsRule;
}

/**
 * The downstream world the simulators start from, as `demo/dataset.schema.json` describes it.
 * Money is integer fen.
 */
export interface Dataset {
  merchants: { merchantId: string; name: string }[];
  stations: DatasetStation[];
  levels: DatasetLevel[];
  users: DatasetUser[];
  cards: { cardNo: string; userId: string; balanceFen: number }[];
  promotions: DatasetPromotion[];
  goods: DatasetGoods[];
  coupons: DatasetCoupon[];
  pointsAccounts: DatasetPointsAccount[];
}

/** The published schema, beside the demo dataset it describes. */
export const DATASET_SCHEMA_URL = new URL('../../demo/dataset.schema.json', import.meta.url);

/** A dataset that does not match its schema or refers to something it does not define. */
export class InvalidDatasetError extends Error {
  constructor(source: string, readonly problems: string[]) {
    super(`invalid dataset ${source}: ${problems.join('; ')}`);
    this.name = 'InvalidDatasetError';
  }
}

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = addFormatsModule.default;

let compiled: ReturnType<Ajv2020['compile']> | undefined;
function schemaValidator(): ReturnType<Ajv2020['compile']> {
  if (!compiled) {
    // `discriminator` makes a bad benefit report the fields of its own type, not of all five.
    const ajv = new Ajv2020({ allErrors: true, discriminator: true });
    addFormats(ajv);
    compiled = ajv.compile(JSON.parse(readFileSync(DATASET_SCHEMA_URL, 'utf8')) as object);
  }
  return compiled;
}

function describe(error: ErrorObject): string {
  const path = error.instancePath || '/';
  const extra = error.keyword === 'additionalProperties'
    ? ` (${String((error.params as { additionalProperty?: unknown }).additionalProperty)})`
    : error.keyword === 'enum'
      ? ` (${JSON.stringify((error.params as { allowedValues?: unknown }).allowedValues)})`
      : '';
  return `${path} ${error.message ?? 'is invalid'}${extra}`;
}

/** Ids unique and references resolvable: what a JSON schema cannot say. */
function crossCheck(d: Dataset): string[] {
  const problems: string[] = [];
  const unique = (items: { id: string; path: string }[], what: string): Set<string> => {
    const seen = new Set<string>();
    for (const { id, path } of items) {
      if (seen.has(id)) problems.push(`${path} duplicate ${what} ${id}`);
      seen.add(id);
    }
    return seen;
  };
  const merchants = unique(d.merchants.map((m, i) => ({ id: m.merchantId, path: `/merchants/${i}/merchantId` })), 'merchant');
  const stations = unique(d.stations.map((s, i) => ({ id: s.stationId, path: `/stations/${i}/stationId` })), 'station');
  const users = unique(d.users.map((u, i) => ({ id: u.userId, path: `/users/${i}/userId` })), 'user');
  unique(d.cards.map((c, i) => ({ id: c.cardNo, path: `/cards/${i}/cardNo` })), 'card');
  unique(d.promotions.map((p, i) => ({ id: p.id, path: `/promotions/${i}/id` })), 'promotion');
  d.stations.forEach((s, i) => {
    if (!merchants.has(s.merchantId)) problems.push(`/stations/${i}/merchantId unknown merchant ${s.merchantId}`);
    unique(s.nozzles.map((n, j) => ({ id: String(n.nozzleNo), path: `/stations/${i}/nozzles/${j}/nozzleNo` })), 'nozzle');
  });
  d.cards.forEach((c, i) => {
    if (!users.has(c.userId)) problems.push(`/cards/${i}/userId unknown user ${c.userId}`);
  });
  d.promotions.forEach((p, i) => {
    if (!merchants.has(p.merchantId)) problems.push(`/promotions/${i}/merchantId unknown merchant ${p.merchantId}`);
    p.stationIds?.forEach((id, j) => {
      if (!stations.has(id)) problems.push(`/promotions/${i}/stationIds/${j} unknown station ${id}`);
    });
  });
  // The user system and the level system must agree: a user's level is the one their growth reaches.
  unique(d.levels.map((l, i) => ({ id: l.level, path: `/levels/${i}/level` })), 'level');
  unique(d.levels.map((l, i) => ({ id: String(l.minGrowth), path: `/levels/${i}/minGrowth` })), 'minGrowth');
  d.users.forEach((u, i) => {
    const reached = d.levels.filter((l) => l.minGrowth <= u.growth).sort((a, b) => b.minGrowth - a.minGrowth)[0];
    if (reached?.level !== u.level) {
      problems.push(`/users/${i}/level ${u.level} does not match growth ${u.growth} (level ${reached?.level ?? 'none'})`);
    }
  });
  unique(d.goods.map((g, i) => ({ id: `${g.stationId}/${g.sku}`, path: `/goods/${i}/sku` })), 'station SKU');
  d.goods.forEach((g, i) => {
    if (!stations.has(g.stationId)) problems.push(`/goods/${i}/stationId unknown station ${g.stationId}`);
  });
  unique(d.coupons.map((c, i) => ({ id: c.couponId, path: `/coupons/${i}/couponId` })), 'coupon');
  d.coupons.forEach((c, i) => {
    if (!users.has(c.userId)) problems.push(`/coupons/${i}/userId unknown user ${c.userId}`);
    if (Date.parse(c.validTo) < Date.parse(c.validFrom)) problems.push(`/coupons/${i}/validTo is before validFrom`);
  });
  unique(d.pointsAccounts.map((a, i) => ({ id: a.userId, path: `/pointsAccounts/${i}/userId` })), 'points account');
  d.pointsAccounts.forEach((a, i) => {
    if (!users.has(a.userId)) problems.push(`/pointsAccounts/${i}/userId unknown user ${a.userId}`);
  });
  return problems;
}

/**
 * Checks a parsed dataset against the published schema and its references; throws an
 * {@link InvalidDatasetError} whose message names the JSON pointer of each problem.
 */
export function validateDataset(value: unknown, source = 'dataset'): Dataset {
  const validate = schemaValidator();
  if (!validate(value)) throw new InvalidDatasetError(source, (validate.errors ?? []).slice(0, 10).map(describe));
  const dataset = value as Dataset;
  const problems = crossCheck(dataset);
  if (problems.length > 0) throw new InvalidDatasetError(source, problems);
  return dataset;
}

/** Reads, parses and validates a dataset file. */
export function loadDataset(path: string | URL): Dataset {
  const source = String(path);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InvalidDatasetError(source, [`/ is not readable JSON: ${(err as Error).message}`]);
  }
  return validateDataset(parsed, source);
}

/** The demo dataset shipped with the project (`npm start`). */
export const DEMO_DATASET_URL = new URL('../../demo/dataset.json', import.meta.url);
