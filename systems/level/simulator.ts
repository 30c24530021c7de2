import type { CallKey, Outcome } from '../contract.ts';
import type { DatasetLevel } from '../sim/dataset.ts';
import type { FaultInjector } from '../sim/faults.ts';
import type { SimStore } from '../sim/store.ts';
import { requireCount, SimVerbs } from '../sim/verb.ts';
import type { LevelPort, MemberLevel } from './port.ts';

/**
 * The level system, simulated over the {@link SimStore}: members' levels and growth from the
 * dataset, with the dataset's level thresholds. The thresholds are the dataset's given at start
 * (they are configuration, not state); members' growth lives in the store.
 */
export class LevelSimulator implements LevelPort {
  private readonly stmts;
  private readonly verbs: SimVerbs;
  /** Highest threshold first. */
  private readonly levels: DatasetLevel[];

  constructor(private readonly store: SimStore, private readonly faults: FaultInjector, levels: readonly DatasetLevel[]) {
    this.verbs = new SimVerbs(store, faults);
    this.levels = [...levels].sort((a, b) => b.minGrowth - a.minGrowth);
    this.stmts = {
      byId: store.db.prepare<[string], MemberLevel>('SELECT user_id AS userId, level, growth FROM member_levels WHERE user_id = ?'),
      setMember: store.db.prepare<[string, number, string]>('UPDATE member_levels SET level = ?, growth = ? WHERE user_id = ?'),
      // The user system shows the member level too; the dataset requires both to agree.
      setUserLevel: store.db.prepare<[string, string]>('UPDATE users SET level = ? WHERE user_id = ?'),
    };
  }

  getLevel(userId: string): Promise<MemberLevel | null> {
    return this.faults.run('getLevel', () => this.peekMember(userId));
  }

  /** The member's level and growth, bypassing faults (admin API, test assertions). */
  peekMember(userId: string): MemberLevel | null {
    return this.stmts.byId.get(userId) ?? null;
  }

  async addGrowth(key: CallKey, req: { userId: string; txnNo: string; growth: number }): Promise<Outcome<{ member: MemberLevel }, 'MEMBER_NOT_FOUND'>> {
    requireCount('growth', req.growth, { positive: true });
    return this.verbs.run('addGrowth', key, req, req.txnNo, (k): Outcome<{ member: MemberLevel }, 'MEMBER_NOT_FOUND'> => {
      const member = this.peekMember(req.userId);
      if (!member) return this.notFound(req.userId);
      return { ok: true, member: this.setGrowth(member, member.growth + req.growth, 'addGrowth', k) };
    });
  }

  async reverseGrowth(key: CallKey, req: { userId: string; txnNo: string; refundNo: string; growth: number }): Promise<Outcome<{ member: MemberLevel; reversed: number }, 'MEMBER_NOT_FOUND'>> {
    requireCount('growth', req.growth, { positive: true });
    return this.verbs.run('reverseGrowth', key, req, req.refundNo, (k): Outcome<{ member: MemberLevel; reversed: number }, 'MEMBER_NOT_FOUND'> => {
      const member = this.peekMember(req.userId);
      if (!member) return this.notFound(req.userId);
      const reversed = Math.min(req.growth, member.growth);
      if (reversed === 0) return { ok: true, member, reversed };
      return { ok: true, member: this.setGrowth(member, member.growth - reversed, 'reverseGrowth', k), reversed };
    });
  }

  private setGrowth(member: MemberLevel, growth: number, verb: string, k: string): MemberLevel {
    const level = this.levels.find((l) => l.minGrowth <= growth)?.level ?? member.level;
    this.stmts.setMember.run(level, growth, member.userId);
    if (level !== member.level) this.stmts.setUserLevel.run(level, member.userId);
    this.store.recordEffect('level', verb, k, level !== member.level ? `level ${member.level} -> ${level}` : null);
    return { userId: member.userId, level, growth };
  }

  private notFound(userId: string): { ok: false; code: 'MEMBER_NOT_FOUND'; message: string } {
    return { ok: false, code: 'MEMBER_NOT_FOUND', message: `the level system knows no member ${userId}` };
  }
}
