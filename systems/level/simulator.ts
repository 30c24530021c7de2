import type { FaultInjector } from '../sim/faults.ts';
import type { SimStore } from '../sim/store.ts';
import type { LevelPort, MemberLevel } from './port.ts';

/** The level system, simulated over the {@link SimStore}: read-only levels and growth from the dataset. */
export class LevelSimulator implements LevelPort {
  private readonly byId;

  constructor(store: SimStore, private readonly faults: FaultInjector) {
    this.byId = store.db.prepare<[string], MemberLevel>('SELECT user_id AS userId, level, growth FROM member_levels WHERE user_id = ?');
  }

  getLevel(userId: string): Promise<MemberLevel | null> {
    return this.faults.run('getLevel', () => this.byId.get(userId) ?? null);
  }
}
