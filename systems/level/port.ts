import type { CallKey, Outcome } from '../contract.ts';

/** A member's level and growth value as the level system keeps them. */
export interface MemberLevel {
  userId: string;
  /** Level code, e.g. `normal`, `silver`, `gold`. */
  level: string;
  growth: number;
}

/**
 * The level system (non-core): the member level used by level-conditioned promotions, and the
 * growth a purchase earns. A member's level is the highest whose growth threshold their growth
 * reaches, so growth may raise it and a reversal may lower it again.
 */
export interface LevelPort {
  getLevel(userId: string): Promise<MemberLevel | null>;
  /**
   * Adds the growth a paid transaction earns and answers the member afterwards. Idempotent by key
   * and by `txnNo`: a transaction earns growth once whatever key carries it. Refused with
   * MEMBER_NOT_FOUND for a user the level system does not know.
   */
  addGrowth(key: CallKey, req: { userId: string; txnNo: string; growth: number }): Promise<Outcome<{ member: MemberLevel }, 'MEMBER_NOT_FOUND'>>;
  /**
   * Takes back the growth of a refund, never below zero growth, and answers the member afterwards
   * and how much was taken back (`reversed`, less than asked when the member has less). Idempotent
   * by key and by `refundNo`. Refused with MEMBER_NOT_FOUND for a user the level system does not know.
   */
  reverseGrowth(key: CallKey, req: { userId: string; txnNo: string; refundNo: string; growth: number }): Promise<Outcome<{ member: MemberLevel; reversed: number }, 'MEMBER_NOT_FOUND'>>;
}
