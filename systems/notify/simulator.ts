import type { CallKey, Outcome } from '../contract.ts';
import type { FaultInjector } from '../sim/faults.ts';
import { RecordBook, type SimRecord } from '../sim/records.ts';
import type { SimStore } from '../sim/store.ts';
import { SimVerbs } from '../sim/verb.ts';
import type { NotifyPort, NotifyRequest } from './port.ts';

/** The user notification system, simulated over the {@link SimStore}: sent messages are kept per call key. */
export class NotifySimulator implements NotifyPort {
  private readonly book: RecordBook;
  private readonly verbs: SimVerbs;
  private readonly user;

  constructor(private readonly store: SimStore, faults: FaultInjector) {
    this.book = new RecordBook(store, 'notify');
    this.verbs = new SimVerbs(store, faults);
    this.user = store.db.prepare<[string], { user_id: string }>('SELECT user_id FROM users WHERE user_id = ?');
  }

  /** The messages sent to a user, oldest first, bypassing faults. */
  peekMessages(userId: string): SimRecord<NotifyRequest>[] {
    return this.book.all<NotifyRequest>('message').filter((m) => m.body.userId === userId);
  }

  send(key: CallKey, req: NotifyRequest): Promise<Outcome<{}, 'USER_NOT_FOUND'>> {
    return this.verbs.run('send', key, req, null, (k): Outcome<{}, 'USER_NOT_FOUND'> => {
      if (!this.user.get(req.userId)) return { ok: false, code: 'USER_NOT_FOUND', message: `no user ${req.userId}` };
      this.book.put('message', k, req.txnNo, req);
      this.store.recordEffect('notify', 'send', k);
      return { ok: true };
    });
  }
}
