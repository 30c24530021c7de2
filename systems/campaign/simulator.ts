import type { CallKey, Outcome } from '../contract.ts';
import type { FaultInjector } from '../sim/faults.ts';
import { RecordBook, type SimRecord } from '../sim/records.ts';
import type { SimStore } from '../sim/store.ts';
import { requireCount, SimVerbs } from '../sim/verb.ts';
import type { CampaignPort, CampaignReward, CampaignRewardRequest } from './port.ts';

/** One spend-X-get-Y rule: an order paying at least `minAmountFen` earns `reward`. */
export interface CampaignRule {
  campaignId: string;
  minAmountFen: number;
  /** Absent: every station. */
  stationIds?: string[];
  reward: CampaignReward;
}

/** The simulated campaigns: spend 200 yuan or more, get a 5-yuan car-wash coupon. */
export const CAMPAIGN_RULES: readonly CampaignRule[] = [
  { campaignId: 'CMP-SPEND200-WASH', minAmountFen: 20000, reward: { kind: 'coupon', templateId: 'TPL-WASH5' } },
];

/** What the simulator keeps of an order that earned rewards. */
export interface CampaignGrant extends CampaignRewardRequest {
  rewards: CampaignReward[];
  /** The refund that took the rewards back, once one did. */
  reversedBy?: string;
}

/** The campaign system, simulated over the {@link SimStore} with the {@link CAMPAIGN_RULES}. */
export class CampaignSimulator implements CampaignPort {
  private readonly book: RecordBook;
  private readonly verbs: SimVerbs;

  constructor(private readonly store: SimStore, faults: FaultInjector, private readonly rules: readonly CampaignRule[] = CAMPAIGN_RULES) {
    this.book = new RecordBook(store, 'campaign');
    this.verbs = new SimVerbs(store, faults);
  }

  /** The transaction's grants (orders that earned rewards), bypassing faults. */
  peekGrants(txnNo: string): SimRecord<CampaignGrant>[] {
    return this.book.ofTxn('grant', txnNo);
  }

  async reward(key: CallKey, req: CampaignRewardRequest): Promise<Outcome<{ rewards: CampaignReward[] }, never>> {
    requireCount('amountFen', req.amountFen);
    return this.verbs.run('reward', key, req, req.orderNo, (k) => {
      const rewards = this.rules
        .filter((r) => req.amountFen >= r.minAmountFen && (!r.stationIds || r.stationIds.includes(req.stationId)))
        .map((r) => r.reward);
      // An order that earns nothing changes nothing: no grant to take back later.
      if (rewards.length > 0) {
        this.book.put<CampaignGrant>('grant', req.orderNo, req.txnNo, { ...req, rewards });
        this.store.recordEffect('campaign', 'reward', k);
      }
      return { ok: true, rewards };
    });
  }

  async reverse(key: CallKey, req: { txnNo: string; refundNo: string }): Promise<Outcome<{ rewards: CampaignReward[] }, never>> {
    return this.verbs.run('reverse', key, req, req.refundNo, (k) => {
      const open = this.peekGrants(req.txnNo).filter((g) => g.body.reversedBy === undefined);
      for (const grant of open) this.book.update<CampaignGrant>('grant', grant.no, { ...grant.body, reversedBy: req.refundNo });
      if (open.length > 0) this.store.recordEffect('campaign', 'reverse', k);
      return { ok: true, rewards: open.flatMap((g) => g.body.rewards) };
    });
  }
}
