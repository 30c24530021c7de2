import type { Coupon } from '../../systems/coupon/port.ts';
import type { Promotion } from '../../systems/promotion/port.ts';
import { allocateLargestRemainder } from '../money.ts';
import { type EligibilityContext, inScope, isCouponCandidate, isPromotionEligible, localTime } from './eligibility.ts';
import type { Combo, Discount, FuelLine, GoodsLine, PricingInput, PricingResult, TopUpBonus, TopUpLine, VirtualLine } from './types.ts';

/*
 * The quote optimizer: per candidate payment method, the best combination of promotions, coupons
 * and points, priced exactly as DOMAIN.md "Quote arithmetic, exactly" says.
 *
 * The search, per method (methods that leave the same promotions eligible share one search):
 *
 * 1. A combination is a coupon set, one promotion per exclusive group, and points. The coupon set
 *    decides which promotions remain, so there are three promotion contexts: no coupon (every
 *    eligible promotion), only coupons stackable with promotions (the promotions stackable with
 *    coupons), some coupon not stackable (no promotion). Each context prices every exclusive-group
 *    choice: promotions are few, coupons are many.
 * 2. From the nets a choice leaves, coupon sets are enumerated depth first in ascending couponId,
 *    which is their application order, so a set's prefix is priced once for all its extensions.
 *    Points depend only on the total net left, so every node of that tree is a whole combination.
 *    Runs of promotions and the coupon trees grown from them are memoised across choices,
 *    contexts and methods (`PromotionRuns`).
 * 3. Pruning stays exact because it only drops branches that cannot reach the incumbent's total
 *    (a tie may still win on the tie-breaks, so an equal bound is explored). Every coupon benefit
 *    grows with its scope nets and nets only fall along a branch, so a coupon's value at the root
 *    of the tree bounds its value anywhere below; a coupon worth 0 there is never chosen.
 *    Points make the total non-monotone (one more fen of coupon can cost a whole points step),
 *    so the bound adds points' unquantised cap, which can only grow as coupons grow.
 *
 * The winner is then priced once more, step by step, to produce its discounts and allocations.
 */

type DiscountableLine = FuelLine | GoodsLine | VirtualLine;

/** A benefit reduced to its arithmetic; coupon `cash` and promotion `amountOff` are both `fixed`. */
type StepBenefit =
  | { type: 'perLiter'; valueFen: number }
  | { type: 'percent'; bp: number; maxDiscountFen: number }
  | { type: 'fixed'; valueFen: number }
  | { type: 'thresholdOff'; thresholdFen: number; valueFen: number; repeat: boolean };

/** A promotion or coupon ready to apply. */
interface Step {
  id: string;
  name: string;
  /** Indexes into the model's discountable lines (ascending line number) of the lines in scope. */
  scope: number[];
  /** Nothing is given while the scope net is below this (promotion minimum amount, coupon threshold). */
  minScopeNetFen: number;
  benefit: StepBenefit;
}

interface PromotionStep extends Step {
  priority: number;
  exclusiveGroup: string | undefined;
  stackableWithCoupons: boolean;
  source: Promotion;
}

interface CouponStep extends Step {
  validToMs: number;
  stackableWithPromotions: boolean;
}

/**
 * Points in whole units: the smallest multiple of the step whose value is a whole number of fen.
 * Any usable amount of points is a multiple of `unitPoints` worth `unitFen` each.
 */
interface PointsPlan {
  unitPoints: number;
  unitFen: number;
  maxUnits: number;
  ratioBp: number;
}

/** The input compiled once per quote; read-only afterwards. */
interface Model {
  lines: DiscountableLine[];
  volumes: number[];
  amounts: number[];
  originalNet: number;
  topUps: TopUpLine[];
  /** Candidate coupons in ascending couponId, their application order. */
  coupons: CouponStep[];
  maxCoupons: number;
  points: PointsPlan | null;
}

/** Nets after some steps: per discountable line, their sum, and the discount that got them there. */
interface State {
  nets: number[];
  net: number;
  discount: number;
}

/** The promotions that apply for one exclusive-group choice, in application order. */
interface PromotionChoice {
  steps: PromotionStep[];
  /** Ids of the chosen exclusive-group members, sorted: the last tie-break. */
  groupIds: string[];
}

interface Candidate {
  total: number;
  points: number;
  /** Ascending couponId. */
  coupons: CouponStep[];
  choice: PromotionChoice;
}

interface Incumbent {
  best: Candidate | null;
}

const NO_PROMOTIONS: PromotionChoice = { steps: [], groupIds: [] };

/** Code-unit order, so ids sort the same on every machine and locale. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareLists<T>(a: readonly T[], b: readonly T[], compare: (x: T, y: T) => number): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compare(a[i] as T, b[i] as T);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function byPriority(a: PromotionStep, b: PromotionStep): number {
  return a.priority - b.priority || compareStrings(a.id, b.id);
}

// ---------------------------------------------------------------------------------------------
// Compiling the input

function compileScope(scope: Promotion['scope'], lines: DiscountableLine[]): number[] {
  const indexes: number[] = [];
  lines.forEach((line, i) => {
    if (inScope(scope, line)) indexes.push(i);
  });
  return indexes;
}

function compilePromotion(p: Promotion, lines: DiscountableLine[]): PromotionStep | null {
  const b = p.benefit;
  let benefit: StepBenefit;
  if (b.type === 'topUpBonus') return null;
  else if (b.type === 'amountOff') benefit = { type: 'fixed', valueFen: b.valueFen };
  else if (b.type === 'percent') benefit = { type: 'percent', bp: b.bp, maxDiscountFen: b.maxDiscountFen ?? Infinity };
  // A zero threshold repeated would mean infinitely many repetitions: it counts once.
  else if (b.type === 'thresholdOff') benefit = { ...b, repeat: b.repeat && b.thresholdFen > 0 };
  else benefit = b;
  return {
    id: p.id,
    name: p.name,
    scope: compileScope(p.scope, lines),
    minScopeNetFen: p.conditions.minAmountFen ?? 0,
    benefit,
    priority: p.priority,
    exclusiveGroup: p.exclusiveGroup,
    stackableWithCoupons: p.stackableWithCoupons,
    source: p,
  };
}

function compileCoupon(c: Coupon, lines: DiscountableLine[]): CouponStep {
  const b = c.benefit;
  const benefit: StepBenefit =
    b.type === 'cash'
      ? { type: 'fixed', valueFen: b.valueFen }
      : b.type === 'percent'
        ? { type: 'percent', bp: b.bp, maxDiscountFen: b.maxDiscountFen ?? Infinity }
        : { type: 'perLiter', valueFen: b.valueFen };
  return {
    id: c.couponId,
    name: c.name,
    scope: compileScope(c.scope, lines),
    minScopeNetFen: b.thresholdFen ?? 0,
    benefit,
    validToMs: Date.parse(c.validTo),
    stackableWithPromotions: c.stackableWithPromotions,
  };
}

function greatestCommonDivisor(a: number, b: number): number {
  return b === 0 ? a : greatestCommonDivisor(b, a % b);
}

function compilePoints(points: PricingInput['points']): PointsPlan | null {
  if (!points) return null;
  const { pointsPerYuan, step, maxRatioBp } = points.rule;
  // A misconfigured rule must not break quoting: it only means no points discount.
  if (![pointsPerYuan, step, maxRatioBp, points.balance].every(Number.isSafeInteger) || pointsPerYuan <= 0 || step <= 0) return null;
  // k steps are worth k·step·100/pointsPerYuan fen: a whole number exactly when k is a multiple of this.
  const stepsPerUnit = pointsPerYuan / greatestCommonDivisor(step * 100, pointsPerYuan);
  const unitPoints = step * stepsPerUnit;
  return {
    unitPoints,
    unitFen: (unitPoints * 100) / pointsPerYuan,
    maxUnits: Math.max(0, Math.floor(points.balance / unitPoints)),
    ratioBp: maxRatioBp,
  };
}

function compileModel(input: PricingInput): Model {
  const lines = input.lines
    .flatMap((l): DiscountableLine[] => (l.type === 'stored_value' ? [] : [l]))
    .sort((a, b) => a.lineNo - b.lineNo);
  const amounts = lines.map((l) => l.amount);
  return {
    lines,
    volumes: lines.map((l) => (l.type === 'fuel' ? l.volumeMl : 0)),
    amounts,
    originalNet: amounts.reduce((a, v) => a + v, 0),
    topUps: input.lines.flatMap((l) => (l.type === 'stored_value' ? [l] : [])).sort((a, b) => a.lineNo - b.lineNo),
    coupons: input.coupons
      .filter((c) => isCouponCandidate(c, input.atMs))
      .map((c) => compileCoupon(c, lines))
      .sort((a, b) => compareStrings(a.id, b.id)),
    maxCoupons: Math.max(0, Math.floor(input.maxCouponsPerOrder)),
    points: compilePoints(input.points),
  };
}

// ---------------------------------------------------------------------------------------------
// The arithmetic of one step

function perLiterOff(valueFen: number, volumeMl: number, net: number): number {
  return Math.min(Math.floor((volumeMl * valueFen) / 1000), net);
}

/** What `step` gives on the current nets, without changing them. */
function stepAmount(step: Step, nets: readonly number[], volumes: readonly number[]): number {
  let scopeNet = 0;
  for (const i of step.scope) scopeNet += nets[i] ?? 0;
  if (scopeNet <= 0 || scopeNet < step.minScopeNetFen) return 0;
  const b = step.benefit;
  switch (b.type) {
    case 'perLiter': {
      let sum = 0;
      for (const i of step.scope) sum += perLiterOff(b.valueFen, volumes[i] ?? 0, nets[i] ?? 0);
      return sum;
    }
    case 'percent':
      return Math.min(Math.floor((scopeNet * b.bp) / 10000), b.maxDiscountFen, scopeNet);
    case 'fixed':
      return Math.min(b.valueFen, scopeNet);
    case 'thresholdOff':
      if (scopeNet < b.thresholdFen) return 0;
      return Math.min(b.repeat ? Math.floor(scopeNet / b.thresholdFen) * b.valueFen : b.valueFen, scopeNet);
  }
}

/**
 * Applies `step` to `nets` (mutated) and returns its share per line index. `perLiter` is per line;
 * anything else is spread over the scope lines still above zero in proportion to their nets, by
 * largest remainder, ties to the lower line number (scope indexes ascend with line numbers).
 */
function applyStep(step: Step, nets: number[], volumes: readonly number[]): Map<number, number> {
  const shares = new Map<number, number>();
  const amount = stepAmount(step, nets, volumes);
  if (amount === 0) return shares;
  const b = step.benefit;
  if (b.type === 'perLiter') {
    for (const i of step.scope) shares.set(i, perLiterOff(b.valueFen, volumes[i] ?? 0, nets[i] ?? 0));
  } else {
    const open = step.scope.filter((i) => (nets[i] ?? 0) > 0);
    const spread = allocateLargestRemainder(amount, open.map((i) => nets[i] ?? 0));
    open.forEach((i, k) => shares.set(i, spread[k] ?? 0));
  }
  for (const [i, fen] of shares) nets[i] = (nets[i] ?? 0) - fen;
  return shares;
}

/** The points a combination uses on the total net left after promotions and coupons. */
function pointsFor(plan: PointsPlan | null, net: number): { points: number; fen: number } {
  if (!plan) return { points: 0, fen: 0 };
  const cap = Math.min(Math.floor((net * plan.ratioBp) / 10000), net);
  const units = Math.max(0, Math.min(plan.maxUnits, Math.floor(cap / plan.unitFen)));
  return { points: units * plan.unitPoints, fen: units * plan.unitFen };
}

/** An upper bound of `pointsFor(plan, net).fen` that never falls faster than `net` does. */
function pointsCeiling(plan: PointsPlan | null, net: number): number {
  if (!plan) return 0;
  return Math.max(0, Math.min(plan.maxUnits * plan.unitFen, Math.floor((net * plan.ratioBp) / 10000), net));
}

// ---------------------------------------------------------------------------------------------
// The search

/** Every way to keep exactly one promotion of each exclusive group; steps in application order. */
function promotionChoices(promotions: PromotionStep[]): PromotionChoice[] {
  const free = promotions.filter((p) => p.exclusiveGroup === undefined);
  const groups = new Map<string, PromotionStep[]>();
  for (const p of promotions) {
    if (p.exclusiveGroup === undefined) continue;
    groups.set(p.exclusiveGroup, [...(groups.get(p.exclusiveGroup) ?? []), p]);
  }
  let picks: PromotionStep[][] = [[]];
  for (const members of groups.values()) picks = picks.flatMap((pick) => members.map((m) => [...pick, m]));
  return picks.map((pick) => ({
    steps: [...free, ...pick].sort(byPriority),
    groupIds: pick.map((p) => p.id).sort(compareStrings),
  }));
}

interface RunNode {
  /** Never mutated: the coupon search copies nets before applying a coupon. */
  state: State;
  next: Map<PromotionStep, RunNode>;
  /** The coupon trees grown from this state, by `needsNonStackable`. */
  trees: Map<boolean, CouponTree>;
}

/**
 * The nets after runs of promotions, memoised as a trie of their prefixes. Exclusive-group
 * choices, the three contexts and the candidate methods mostly share prefixes (two choices differ
 * in one promotion), so each distinct prefix is priced once per quote, and so is each coupon tree.
 */
class PromotionRuns {
  private readonly root: RunNode;

  constructor(private readonly model: Model) {
    this.root = { state: { nets: [...model.amounts], net: model.originalNet, discount: 0 }, next: new Map(), trees: new Map() };
  }

  /** The node reached by applying `steps` in order from the original amounts. */
  after(steps: readonly PromotionStep[]): RunNode {
    let node = this.root;
    for (const step of steps) {
      let child = node.next.get(step);
      if (!child) {
        const nets = [...node.state.nets];
        let fen = 0;
        for (const share of applyStep(step, nets, this.model.volumes).values()) fen += share;
        child = { state: { nets, net: node.state.net - fen, discount: node.state.discount + fen }, next: new Map(), trees: new Map() };
        node.next.set(step, child);
      }
      node = child;
    }
    return node;
  }

  /** The coupon tree from the nets `steps` leave: stackable coupons only, or every coupon. */
  tree(steps: readonly PromotionStep[], needsNonStackable: boolean): CouponTree {
    const node = this.after(steps);
    let tree = node.trees.get(needsNonStackable);
    if (!tree) {
      const pool = needsNonStackable ? this.model.coupons : this.model.coupons.filter((c) => c.stackableWithPromotions);
      tree = couponTree(this.model, node.state, pool, needsNonStackable);
      node.trees.set(needsNonStackable, tree);
    }
    return tree;
  }
}

/**
 * True when `a` beats `b`: more total discount; then fewer points; then fewer coupons; then the
 * coupon set that expires first (validTo instants ascending, compared element by element); then
 * the lower coupon ids (ascending ids compared element by element, code-unit order); then the
 * lower ids of the chosen exclusive-group promotions (likewise). Two candidates equal on all of
 * these are the same combination.
 */
function beats(a: Candidate, b: Candidate): boolean {
  if (a.total !== b.total) return a.total > b.total;
  if (a.points !== b.points) return a.points < b.points;
  if (a.coupons.length !== b.coupons.length) return a.coupons.length < b.coupons.length;
  const expiries = (c: Candidate) => c.coupons.map((x) => x.validToMs).sort((x, y) => x - y);
  const byExpiry = compareLists(expiries(a), expiries(b), (x, y) => x - y);
  if (byExpiry !== 0) return byExpiry < 0;
  const byCouponId = compareLists(a.coupons.map((c) => c.id), b.coupons.map((c) => c.id), compareStrings);
  if (byCouponId !== 0) return byCouponId < 0;
  return compareLists(a.choice.groupIds, b.choice.groupIds, compareStrings) < 0;
}

/** Completes a combination with points and keeps it if it beats the incumbent. */
function offer(model: Model, incumbent: Incumbent, choice: PromotionChoice, coupons: readonly CouponStep[], state: State): void {
  const points = pointsFor(model.points, state.net);
  const total = state.discount + points.fen;
  if (incumbent.best && total < incumbent.best.total) return;
  const candidate: Candidate = { total, points: points.points, coupons: [...coupons], choice };
  if (!incumbent.best || beats(candidate, incumbent.best)) incumbent.best = candidate;
}

/** The root of a coupon tree: the nets one promotion choice leaves, and the coupons that may follow. */
interface CouponTree {
  root: State;
  /** Coupons worth something at the root, ascending couponId. */
  pool: CouponStep[];
  /** Each pool coupon's value at the root: a bound of its value anywhere in the tree. */
  rootValue: number[];
  /** `bestSum[k][i]`: the largest sum of `k` root values among `pool[i..]`. */
  bestSum: number[][];
  /** The sets of this tree must contain a coupon not stackable with promotions. */
  needsNonStackable: boolean;
  /** `nonStackableFrom[i]`: some coupon of `pool[i..]` is not stackable. */
  nonStackableFrom: boolean[];
}

function couponTree(model: Model, root: State, coupons: CouponStep[], needsNonStackable: boolean): CouponTree {
  const pool: CouponStep[] = [];
  const rootValue: number[] = [];
  for (const c of coupons) {
    const fen = stepAmount(c, root.nets, model.volumes);
    if (fen > 0) {
      pool.push(c);
      rootValue.push(fen);
    }
  }
  const n = pool.length;
  const bestSum = Array.from({ length: model.maxCoupons + 1 }, () => new Array<number>(n + 1).fill(0));
  const nonStackableFrom = new Array<boolean>(n + 1).fill(false);
  for (let i = n - 1; i >= 0; i--) {
    nonStackableFrom[i] = (nonStackableFrom[i + 1] ?? false) || !(pool[i] as CouponStep).stackableWithPromotions;
    for (let k = 1; k <= model.maxCoupons; k++) {
      const row = bestSum[k] as number[];
      const below = bestSum[k - 1] as number[];
      row[i] = Math.max(row[i + 1] ?? 0, (rootValue[i] ?? 0) + (below[i + 1] ?? 0));
    }
  }
  return { root, pool, rootValue, bestSum, needsNonStackable, nonStackableFrom };
}

/** A coupon tree and the promotion choice whose nets it starts from. */
interface Root {
  choice: PromotionChoice;
  tree: CouponTree;
}

/**
 * Depth-first over coupon sets that extend `chosen` with coupons of `tree.pool[start..]`, at most
 * `slots` more. `state` is the nets after `chosen`.
 */
function extend(model: Model, incumbent: Incumbent, { choice, tree }: Root, state: State, start: number, chosen: CouponStep[], slots: number): void {
  const hasNonStackable = chosen.some((c) => !c.stackableWithPromotions);
  for (let i = start; i < tree.pool.length; i++) {
    const coupon = tree.pool[i] as CouponStep;
    const nonStackableSoFar = hasNonStackable || !coupon.stackableWithPromotions;
    if (tree.needsNonStackable && !nonStackableSoFar && !tree.nonStackableFrom[i + 1]) break;
    // The most coupons could add from here: this one and the best `slots - 1` after it, at root values.
    const couponCeiling = Math.min((tree.rootValue[i] ?? 0) + (tree.bestSum[slots - 1]?.[i + 1] ?? 0), state.net);
    const bound = state.discount + couponCeiling + pointsCeiling(model.points, state.net - couponCeiling);
    if (incumbent.best && bound < incumbent.best.total) continue;
    const fen = chosen.length === 0 ? (tree.rootValue[i] ?? 0) : stepAmount(coupon, state.nets, model.volumes);
    // A coupon that gives nothing here is never chosen (it could only change which promotions remain).
    if (fen === 0) continue;
    chosen.push(coupon);
    const after: State = { nets: state.nets, net: state.net - fen, discount: state.discount + fen };
    if (!tree.needsNonStackable || nonStackableSoFar) offer(model, incumbent, choice, chosen, after);
    if (slots > 1 && i + 1 < tree.pool.length) {
      // Only a set that goes on needs to know how this coupon split over its lines.
      after.nets = [...state.nets];
      applyStep(coupon, after.nets, model.volumes);
      extend(model, incumbent, { choice, tree }, after, i + 1, chosen, slots - 1);
    }
    chosen.pop();
  }
}

/** The best combination for one set of eligible (non-top-up) promotions. */
function search(model: Model, runs: PromotionRuns, eligible: PromotionStep[]): Candidate {
  const incumbent: Incumbent = { best: null };
  for (const choice of promotionChoices(eligible)) offer(model, incumbent, choice, [], runs.after(choice.steps).state);
  if (model.maxCoupons > 0 && model.coupons.length > 0) {
    const roots: Root[] = promotionChoices(eligible.filter((p) => p.stackableWithCoupons)).map((choice) => ({ choice, tree: runs.tree(choice.steps, false) }));
    if (model.coupons.some((c) => !c.stackableWithPromotions)) roots.push({ choice: NO_PROMOTIONS, tree: runs.tree([], true) });
    // Single coupons first: cheap, and the incumbent they leave lets the deeper pass prune.
    for (const root of roots) extend(model, incumbent, root, root.tree.root, 0, [], 1);
    if (model.maxCoupons > 1) for (const root of roots) extend(model, incumbent, root, root.tree.root, 0, [], model.maxCoupons);
  }
  if (!incumbent.best) throw new Error('optimizer: the empty combination was never offered');
  return incumbent.best;
}

// ---------------------------------------------------------------------------------------------
// Building the result

type ComboBody = Omit<Combo, 'comboId' | 'paymentMethod' | 'topUpBonuses'>;

function byLineNo(model: Model, shares: Map<number, number>): Record<number, number> {
  const byLine: Record<number, number> = {};
  for (const [i, fen] of [...shares].sort((a, b) => a[0] - b[0])) {
    const line = model.lines[i];
    if (line && fen > 0) byLine[line.lineNo] = fen;
  }
  return byLine;
}

/** Prices the winning combination step by step: the discounts with their allocations. */
function price(model: Model, winner: Candidate): ComboBody {
  const nets = [...model.amounts];
  const discounts: Discount[] = [];
  for (const step of winner.choice.steps) {
    const shares = applyStep(step, nets, model.volumes);
    const amount = [...shares.values()].reduce((a, v) => a + v, 0);
    if (amount > 0) discounts.push({ kind: 'promotion', id: step.id, name: step.name, amount, byLine: byLineNo(model, shares) });
  }
  for (const step of winner.coupons) {
    const shares = applyStep(step, nets, model.volumes);
    const amount = [...shares.values()].reduce((a, v) => a + v, 0);
    discounts.push({ kind: 'coupon', id: step.id, name: step.name, amount, byLine: byLineNo(model, shares) });
  }
  const points = pointsFor(model.points, nets.reduce((a, v) => a + v, 0));
  if (points.fen > 0) {
    // Points are spread like any other step, over every discountable line.
    const pointsStep: Step = { id: 'points', name: 'points', scope: model.lines.map((_, i) => i), minScopeNetFen: 0, benefit: { type: 'fixed', valueFen: points.fen } };
    const shares = applyStep(pointsStep, nets, model.volumes);
    discounts.push({ kind: 'points', points: points.points, amount: points.fen, byLine: byLineNo(model, shares) });
  }
  const discountAmount = discounts.reduce((a, d) => a + d.amount, 0);
  if (discountAmount !== winner.total) throw new Error(`optimizer: searched ${winner.total} fen but priced ${discountAmount}`);
  // Integer keys enumerate in ascending order, so lineNets reads in line order.
  const lineNets: Record<number, number> = {};
  for (const line of model.topUps) lineNets[line.lineNo] = line.amount;
  model.lines.forEach((line, i) => (lineNets[line.lineNo] = nets[i] ?? 0));
  return {
    discounts,
    couponIds: winner.coupons.map((c) => c.id),
    points: points.points,
    discountAmount,
    payableAmount: Object.values(lineNets).reduce((a, v) => a + v, 0),
    lineNets,
  };
}

function topUpBonusFen(p: Promotion, line: TopUpLine): number {
  const b = p.benefit;
  if (b.type !== 'topUpBonus' || line.amount < (p.conditions.minAmountFen ?? 0) || line.amount < b.thresholdFen) return 0;
  return b.repeat && b.thresholdFen > 0 ? Math.floor(line.amount / b.thresholdFen) * b.bonusFen : b.bonusFen;
}

/**
 * Top-up bonuses of the eligible `topUpBonus` promotions, per top-up line: the line's amount is
 * what the threshold and any minimum amount are judged on (scope does not apply). Coupons never
 * remove them. Their exclusive groups compete only among top-up bonuses, since a bonus is not a
 * discount and cannot be weighed against one: a group keeps the member giving the most bonus
 * (ties: lowest id).
 */
function topUpBonuses(model: Model, eligible: Promotion[]): TopUpBonus[] {
  const bonusOf = (p: Promotion) => model.topUps.reduce((a, l) => a + topUpBonusFen(p, l), 0);
  const kept = new Map<string, Promotion>();
  for (const p of eligible) {
    const key = p.exclusiveGroup === undefined ? `promotion:${p.id}` : `group:${p.exclusiveGroup}`;
    const held = kept.get(key);
    if (!held || bonusOf(p) > bonusOf(held) || (bonusOf(p) === bonusOf(held) && compareStrings(p.id, held.id) < 0)) kept.set(key, p);
  }
  const ordered = [...kept.values()].sort((a, b) => a.priority - b.priority || compareStrings(a.id, b.id));
  return ordered.flatMap((p) =>
    model.topUps.flatMap((line) => {
      const bonusFen = topUpBonusFen(p, line);
      return bonusFen > 0 ? [{ promotionId: p.id, lineNo: line.lineNo, bonusFen }] : [];
    }),
  );
}

/**
 * The best combination per candidate payment method (DOMAIN.md "Quote"), exact and deterministic.
 *
 * - One combo per distinct method of `input.paymentMethods`, in that order, `comboId` `c-<method>`;
 *   with no methods, one combo `c-any` with `paymentMethod: null` (method-bound promotions are then
 *   not eligible). `stored_value` is skipped when a line is a top-up (a top-up cannot be paid with
 *   stored value); if that leaves no method, the `c-any` combo stands in.
 * - Each combo maximises the total discount (promotions + coupons + points). Ties go, in this
 *   order, to: fewer points; fewer coupons; the coupon set that expires first (the sorted validTo
 *   instants compared element by element, earlier wins); the lower coupon ids (sorted ids compared
 *   element by element in code-unit order); the lower ids of the chosen exclusive-group promotions
 *   (likewise). A coupon that would contribute 0 is never chosen.
 * - `bestComboId` is the combo with the lowest payable amount; on equal payables the one with fewer
 *   points, then fewer coupons, then the coupon set that expires first, then the earlier candidate
 *   (the method listed first in the request).
 *
 * Pure: time is `input.atMs`, the station's clock `input.timeZone`.
 */
export function optimize(input: PricingInput): PricingResult {
  const model = compileModel(input);
  const at: EligibilityContext = { atMs: input.atMs, local: localTime(input.atMs, input.timeZone), memberLevel: input.memberLevel };
  const promotions = input.promotions.map((p) => compilePromotion(p, model.lines)).filter((p): p is PromotionStep => p !== null).sort(byPriority);
  const topUpPromotions = input.promotions.filter((p) => p.benefit.type === 'topUpBonus');

  const given = [...new Set(input.paymentMethods)].filter((m) => !(m === 'stored_value' && model.topUps.length > 0));
  const methods: (string | null)[] = given.length > 0 ? given : [null];
  // Methods usually differ only in a few method-bound promotions: equal eligible sets share a search.
  const searched = new Map<string, ComboBody>();
  const runs = new PromotionRuns(model);
  const combos = methods.map((method): Combo => {
    const eligible = promotions.filter((p) => isPromotionEligible(p.source, at, method));
    const key = eligible.map((p) => p.id).join('\u0000');
    let body = searched.get(key);
    if (!body) {
      body = price(model, search(model, runs, eligible));
      searched.set(key, body);
    }
    return {
      comboId: `c-${method ?? 'any'}`,
      paymentMethod: method,
      ...structuredClone(body),
      topUpBonuses: topUpBonuses(model, topUpPromotions.filter((p) => isPromotionEligible(p, at, method))),
    };
  });
  const validTo = new Map(model.coupons.map((c) => [c.id, c.validToMs]));
  const best = combos.reduce((a, c) => (betterCombo(c, a, validTo) ? c : a));
  return { combos, bestComboId: best.comboId };
}

/**
 * True when combo `a` beats `b` for `bestComboId`: lower payable; then, as within a method, fewer
 * points, fewer coupons, the coupon set that expires first. Otherwise the earlier candidate keeps
 * it (combos are in request order), so a customer is never steered off the first method listed
 * for nothing, and never spends points or coupons another method does without.
 */
function betterCombo(a: Combo, b: Combo, validTo: ReadonlyMap<string, number>): boolean {
  if (a.payableAmount !== b.payableAmount) return a.payableAmount < b.payableAmount;
  if (a.points !== b.points) return a.points < b.points;
  if (a.couponIds.length !== b.couponIds.length) return a.couponIds.length < b.couponIds.length;
  const expiries = (c: Combo) => c.couponIds.map((id) => validTo.get(id) ?? Infinity).sort((x, y) => x - y);
  return compareLists(expiries(a), expiries(b), (x, y) => x - y) < 0;
}
