import type { Promotion } from '../../systems/promotion/port.ts';
import { allocateLargestRemainder } from '../money.ts';
import type { Combo, Discount, PricingInput, QuoteLine } from './types.ts';

/**
 * Promotions-only pricing (the full optimizer with coupons and points builds on this).
 * Arithmetic exactly as DOMAIN.md "Quote arithmetic, exactly": promotions apply in ascending
 * (priority, id), each on the current net amounts of its scope lines; of one exclusive group
 * exactly one applies, and which one is chosen to maximise the discount (ties: lowest id).
 */

interface LocalTime {
  minutes: number;
  isoWeekday: number;
}

function localTime(atMs: number, timeZone: string): LocalTime {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    weekday: 'short',
    hourCycle: 'h23',
  }).formatToParts(new Date(atMs));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const weekdays = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  return { minutes: Number(get('hour')) * 60 + Number(get('minute')), isoWeekday: weekdays.indexOf(get('weekday')) + 1 };
}

function toMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** True when `minutes` lies in [start, end), windows may wrap midnight (22:00-06:00). */
function inWindow(minutes: number, start: string, end: string): boolean {
  const s = toMinutes(start);
  const e = toMinutes(end);
  return s <= e ? minutes >= s && minutes < e : minutes >= s || minutes < e;
}

function inScope(p: Promotion, line: QuoteLine): boolean {
  const { scope } = p;
  if (scope.kind === 'all') return true;
  if (scope.kind === 'fuel') return line.type === 'fuel' && (!scope.grades || scope.grades.includes(line.grade));
  return false;
}

/** Static eligibility: validity, time window, weekday, member level, payment method. */
export function isEligible(p: Promotion, input: PricingInput, method: string | null): boolean {
  if (p.benefit.type === 'topUpBonus') return false;
  if (p.validFrom && Date.parse(p.validFrom) > input.atMs) return false;
  if (p.validTo && Date.parse(p.validTo) < input.atMs) return false; // validTo is inclusive, as the promotion engine treats it
  const c = p.conditions;
  const local = localTime(input.atMs, input.timeZone);
  if (c.timeWindows?.length && !c.timeWindows.some((w) => inWindow(local.minutes, w.start, w.end))) return false;
  if (c.weekdays?.length && !c.weekdays.includes(local.isoWeekday)) return false;
  if (c.memberLevels?.length && !c.memberLevels.includes(input.memberLevel)) return false;
  if (c.paymentMethods?.length && (method === null || !c.paymentMethods.includes(method))) return false;
  return true;
}

/** Applies one promotion to the current nets; returns its discount or null when it gives nothing. */
function applyPromotion(p: Promotion, lines: QuoteLine[], nets: Record<number, number>): Discount | null {
  const scoped = lines.filter((l) => inScope(p, l) && (nets[l.lineNo] ?? 0) > 0);
  const scopeNet = scoped.reduce((a, l) => a + (nets[l.lineNo] ?? 0), 0);
  if (scoped.length === 0 || scopeNet < (p.conditions.minAmountFen ?? 0)) return null;
  const byLine: Record<number, number> = {};
  const b = p.benefit;
  if (b.type === 'perLiter') {
    for (const l of scoped) {
      const off = Math.min(Math.floor((l.volumeMl * b.valueFen) / 1000), nets[l.lineNo] ?? 0);
      if (off > 0) byLine[l.lineNo] = off;
    }
  } else {
    let amount = 0;
    if (b.type === 'percent') amount = Math.min(Math.floor((scopeNet * b.bp) / 10000), b.maxDiscountFen ?? Infinity);
    else if (b.type === 'amountOff') amount = Math.min(b.valueFen, scopeNet);
    else if (b.type === 'thresholdOff')
      amount = scopeNet < b.thresholdFen ? 0 : Math.min(b.repeat ? Math.floor(scopeNet / b.thresholdFen) * b.valueFen : b.valueFen, scopeNet);
    if (amount <= 0) return null;
    const shares = allocateLargestRemainder(amount, scoped.map((l) => nets[l.lineNo] ?? 0));
    scoped.forEach((l, i) => {
      if ((shares[i] ?? 0) > 0) byLine[l.lineNo] = shares[i] ?? 0;
    });
  }
  const total = Object.values(byLine).reduce((a, v) => a + v, 0);
  if (total === 0) return null;
  for (const [lineNo, off] of Object.entries(byLine)) nets[Number(lineNo)] = (nets[Number(lineNo)] ?? 0) - off;
  return { kind: 'promotion', id: p.id, name: p.name, amount: total, byLine };
}

function byPriority(a: Promotion, b: Promotion): number {
  return a.priority - b.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Every way to keep exactly one promotion per exclusive group, in a deterministic order. */
function groupChoices(eligible: Promotion[]): Promotion[][] {
  const free = eligible.filter((p) => !p.exclusiveGroup);
  const groups = new Map<string, Promotion[]>();
  for (const p of eligible) {
    if (!p.exclusiveGroup) continue;
    groups.set(p.exclusiveGroup, [...(groups.get(p.exclusiveGroup) ?? []), p]);
  }
  let choices: Promotion[][] = [free];
  for (const members of [...groups.values()]) {
    const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : 1));
    choices = choices.flatMap((c) => sorted.map((m) => [...c, m]));
  }
  return choices.map((c) => [...c].sort(byPriority));
}

function price(lines: QuoteLine[], promotions: Promotion[]): { discounts: Discount[]; nets: Record<number, number> } {
  const nets: Record<number, number> = Object.fromEntries(lines.map((l) => [l.lineNo, l.amount]));
  const discounts: Discount[] = [];
  for (const p of promotions) {
    const d = applyPromotion(p, lines, nets);
    if (d) discounts.push(d);
  }
  return { discounts, nets };
}

/** The best promotions-only combination for one payment method (or none). */
export function bestCombo(input: PricingInput, method: string | null): Combo {
  const eligible = input.promotions.filter((p) => isEligible(p, input, method));
  const originalAmount = input.lines.reduce((a, l) => a + l.amount, 0);
  let best: { discounts: Discount[]; nets: Record<number, number>; total: number } | null = null;
  for (const choice of groupChoices(eligible)) {
    const priced = price(input.lines, choice);
    const total = priced.discounts.reduce((a, d) => a + d.amount, 0);
    if (best === null || total > best.total) best = { ...priced, total };
  }
  const chosen = best ?? { discounts: [], nets: Object.fromEntries(input.lines.map((l) => [l.lineNo, l.amount])), total: 0 };
  return {
    comboId: `c-${method ?? 'any'}`,
    paymentMethod: method,
    discounts: chosen.discounts,
    discountAmount: chosen.total,
    payableAmount: originalAmount - chosen.total,
    lineNets: chosen.nets,
  };
}

/** One combination per candidate method; the best is the lowest payable (ties: first method). */
export function priceQuote(input: PricingInput): { combos: Combo[]; bestComboId: string } {
  const methods = input.paymentMethods.length ? input.paymentMethods : [null];
  const combos = methods.map((m) => bestCombo(input, m));
  const best = combos.reduce((a, c) => (c.payableAmount < a.payableAmount ? c : a));
  return { combos, bestComboId: best.comboId };
}
