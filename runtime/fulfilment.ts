import type { Outcome } from '../systems/contract.ts';
import type { Systems } from '../systems/index.ts';

/** What a fulfilment hook is asked to deliver: one paid virtual line of one transaction. */
export interface FulfilmentRequest {
  txnNo: string;
  lineNo: number;
  userId: string;
  code: string;
  amountFen: number;
}

/**
 * Fulfilment hooks for `virtual` items (DOMAIN.md "Items"), by item code. Each runs as the
 * post-payment task `fulfil:<lineNo>`, keyed, so a retry delivers once. A code with no hook is
 * refused at quote time, before anyone pays for something nobody can deliver.
 */
export type FulfilmentHook = (systems: Systems, key: { txnNo: string; step: string }, req: FulfilmentRequest) => Promise<Outcome<Record<string, unknown>>>;

export const FULFILMENT_HOOKS: Record<string, FulfilmentHook> = {
  /** A car-wash voucher: a 5-yuan SKU-WASH coupon in the member's wallet. */
  'wash-voucher': async (systems, key, req) => {
    const issued = await systems.coupon.issue(key, { userId: req.userId, issueNo: `${req.txnNo}-V${req.lineNo}`, templateId: 'TPL-WASH5' });
    return issued.ok ? { ok: true, couponId: issued.couponId } : issued;
  },
  /** A lucky-wheel spin: the wheel lives in the channel's app; the member is told the spin is theirs. */
  'lucky-wheel-spin': async (systems, key, req) => {
    const sent = await systems.notify.send(key, { userId: req.userId, txnNo: req.txnNo, message: 'Your lucky-wheel spin is ready in the app.' });
    return sent.ok ? { ok: true } : sent;
  },
};
