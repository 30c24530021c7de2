import { randomBytes } from 'node:crypto';

/**
 * Unique, time-sortable numbers: `T…` transaction, `O…` order, `R…` refund, `Q…` quote,
 * `S…` shadow quote.
 *
 * Layout (after the prefix): 17 digits of UTC time `yyyyMMddHHmmssSSS`, 4 digits of a per-process
 * sequence, then 6 base-32 characters of a node id drawn at random once per process. Within one
 * process the numbers strictly increase (the sequence breaks ties, and the clock never goes
 * backwards here); across processes the node id keeps them apart (2^30 node ids, so two processes
 * colliding would need the same millisecond, the same sequence value and the same node id).
 */
export type IdPrefix = 'T' | 'O' | 'R' | 'Q' | 'S';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function randomNodeId(): string {
  const bytes = randomBytes(6);
  let out = '';
  for (let i = 0; i < 6; i++) out += ALPHABET[(bytes[i] ?? 0) % 32];
  return out;
}

export class IdGenerator {
  private lastMs = 0;
  private seq = 0;
  constructor(
    private readonly now: () => number = Date.now,
    readonly nodeId: string = randomNodeId(),
  ) {}

  next(prefix: IdPrefix): string {
    let ms = this.now();
    if (ms <= this.lastMs) {
      ms = this.lastMs;
      this.seq++;
      if (this.seq > 9999) {
        // More than 10k numbers in one millisecond: borrow the next millisecond.
        ms = this.lastMs + 1;
        this.seq = 0;
      }
    } else {
      this.seq = 0;
    }
    this.lastMs = ms;
    const stamp = new Date(ms).toISOString().replace(/[-:TZ.]/g, '');
    return `${prefix}${stamp}${String(this.seq).padStart(4, '0')}${this.nodeId}`;
  }
}
