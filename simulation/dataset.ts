import { DEMO_DATASET_URL, loadDataset, validateDataset, type Dataset } from '../systems/sim/index.ts';
import type { Prng } from './prng.ts';

/** The simulated world's shape: who buys, with what. */
export interface SimPopulation {
  users: { userId: string; cardNo: string | null; coupons: string[]; hasPoints: boolean }[];
  /** Shelf SKUs by station, the scarce one included (stock runs out during a run). */
  skus: Record<string, string[]>;
  stations: { stationId: string; merchantId: string; nozzles: number[] }[];
}

const USERS = 40;

/**
 * The demo dataset's stations, prices, levels and promotions, with a seeded population large
 * enough for thousands of sales: members with cards deep enough to pay for many fills, a few
 * coupons each (spent as the run goes), points, and shelves stocked for the run but for one
 * scarce SKU, so that reservations also run out.
 */
export function simulationDataset(prng: Prng): { dataset: Dataset; population: SimPopulation } {
  const demo = loadDataset(DEMO_DATASET_URL);
  const templates = demo.coupons;
  const users: Dataset['users'] = [];
  const cards: Dataset['cards'] = [];
  const coupons: Dataset['coupons'] = [];
  const points: Dataset['pointsAccounts'] = [];
  const population: SimPopulation = { users: [], skus: {}, stations: [] };
  for (let i = 1; i <= USERS; i++) {
    const userId = `SU${i}`;
    const level = demo.levels[i % demo.levels.length]!;
    users.push({ userId, name: `Sim member ${i}`, level: level.level, growth: level.minGrowth + prng.int(0, 500) });
    // One member in eight pays only through channels: no card.
    const cardNo = i % 8 === 0 ? null : `SC${i}`;
    if (cardNo) cards.push({ cardNo, userId, balanceFen: prng.int(200_000, 5_000_000) });
    const held: string[] = [];
    for (let c = 0; c < prng.int(0, 4); c++) {
      const template = prng.pick(templates);
      const couponId = `SCP${i}-${c}`;
      const { status: _status, ...body } = template;
      coupons.push({ ...body, couponId, userId });
      held.push(couponId);
    }
    const hasPoints = i % 3 !== 0;
    if (hasPoints) points.push({ userId, balance: prng.int(0, 200) * 100, rule: { pointsPerYuan: 100, step: 100, maxRatioBp: 1000 } });
    population.users.push({ userId, cardNo, coupons: held, hasPoints });
  }
  const goods = demo.goods.map((g) => ({ ...g, stock: g.sku === 'SKU-OIL' ? 25 : 1_000_000 }));
  for (const g of goods) (population.skus[g.stationId] ??= []).push(g.sku);
  for (const s of demo.stations) population.stations.push({ stationId: s.stationId, merchantId: s.merchantId, nozzles: s.nozzles.map((n) => n.nozzleNo) });
  const dataset = validateDataset({ ...demo, users, cards, coupons, pointsAccounts: points, goods }, 'simulation dataset');
  return { dataset, population };
}
