import type { FaultInjector } from '../sim/faults.ts';
import type { SimStore } from '../sim/store.ts';
import type { User, UserPort } from './port.ts';

/** The user system, simulated over the {@link SimStore}: read-only members from the dataset. */
export class UserSimulator implements UserPort {
  private readonly byId;

  constructor(store: SimStore, private readonly faults: FaultInjector) {
    this.byId = store.db.prepare<[string], User>('SELECT user_id AS userId, name, level FROM users WHERE user_id = ?');
  }

  getUser(userId: string): Promise<User | null> {
    return this.faults.run('getUser', () => this.byId.get(userId) ?? null);
  }
}
