import type { CallKey, Outcome } from '../contract.ts';

/** A reward a campaign grants; the platform issues it (a reward coupon from the coupon system). */
export interface CampaignReward {
  kind: 'coupon';
  /** The coupon template to issue, e.g. `TPL-WASH5`. */
  templateId: string;
}

/** A paid order offered to the running campaigns (spend X, get Y). */
export interface CampaignRewardRequest {
  txnNo: string;
  orderNo: string;
  userId: string;
  stationId: string;
  /** What the order was paid, in fen: the "spend X". */
  amountFen: number;
}

/**
 * The campaign system (non-core): decides the rewards a paid order earns and takes them back on a
 * (full) refund. Idempotent by key, `reward` also by `orderNo` and `reverse` by `refundNo`: an
 * order earns its rewards once, whatever key carries it.
 */
export interface CampaignPort {
  /** The rewards the order earns, possibly none; never refused. */
  reward(key: CallKey, req: CampaignRewardRequest): Promise<Outcome<{ rewards: CampaignReward[] }, never>>;
  /**
   * Takes back the rewards of the transaction that are not taken back yet and answers them, so the
   * caller revokes what they gave (none when nothing was rewarded or all is taken back); never refused.
   */
  reverse(key: CallKey, req: { txnNo: string; refundNo: string }): Promise<Outcome<{ rewards: CampaignReward[] }, never>>;
}
