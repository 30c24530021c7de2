import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { TradeError } from '../../domain/errors.ts';
import { SIGNATURE_HEADERS, verify } from '../../domain/signature.ts';
import type { TradeCenter } from '../../runtime/trade-center.ts';
import { decodePaymentCallback, decodeRefundCallback } from '../../systems/payment-gateway/callback-formats.ts';
import { utf8Body } from '../body-parsers.ts';
import { errorResponses } from '../schemas.ts';
import { bindTxnNo } from '../request-logging.ts';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: string;
    /** The signed callback's nonce, its body's hash, and whether it was seen before with that body. */
    callbackNonce?: { nonce: string; bodySha256: string; duplicate: boolean };
  }
}

/**
 * Payment gateway callbacks (DESIGN.md rule 7: never trust a callback). The signature is checked
 * over the raw body, then the amount, merchant and channel are matched against our own record;
 * only then does the leg hear about it, and even then the leg asks the gateway before it counts
 * as paid. The acknowledgement goes out after the event is stored.
 */
export const callbackRoutes: FastifyPluginAsyncTypebox<{ tc: TradeCenter }> = async (app, { tc }) => {
  // Each channel has its own body format (systems/payment-gateway/callback-formats.ts); the
  // signature is over the raw bytes, so the body is kept as text and decoded by channel.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(['application/json', 'application/x-www-form-urlencoded'], { parseAs: 'buffer' }, (req, body, done) => {
    try {
      req.rawBody = utf8Body(body as Buffer);
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)), undefined);
      return;
    }
    done(null, req.rawBody);
  });

  // The signature is checked before anything else: an unsigned body is not worth decoding.
  const verifySignature = async (req: FastifyRequest) => {
    const header = (name: string) => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const timestamp = header(SIGNATURE_HEADERS.timestamp);
    const nonce = header(SIGNATURE_HEADERS.nonce);
    const rawBody = req.rawBody ?? '';
    const nowMs = tc.clock.now();
    const windowMs = tc.config.callbackWindowSeconds * 1000;
    const ok = verify({ secret: tc.config.callbackSecret, timestamp, nonce, signature: header(SIGNATURE_HEADERS.signature), rawBody, nowMs, windowSeconds: tc.config.callbackWindowSeconds });
    if (!ok || !timestamp || !nonce) throw new TradeError('INVALID_SIGNATURE');
    // Remembered until its timestamp leaves the window, when the signature check refuses it anyway.
    const bodySha256 = createHash('sha256').update(rawBody).digest('hex');
    const seen = await tc.callbackNonces.remember(nonce, bodySha256, nowMs, Number(timestamp) * 1000 + windowMs + 1000);
    if (seen === 'conflict') throw new TradeError('INVALID_SIGNATURE', 'this nonce was already used with another body');
    req.callbackNonce = { nonce, bodySha256, duplicate: seen === 'duplicate' };
  };

  /** A duplicate delivery answers as the first did and is journalled instead of delivered. */
  const noteDuplicate = async (req: FastifyRequest, txnNo: string, data: Record<string, unknown>) => {
    const nonce = req.callbackNonce?.nonce;
    await tc.host.note(txnNo, 'CALLBACK_DUPLICATE', { ...data, nonce });
    req.log.info({ nonce }, 'duplicate callback delivery');
  };

  // A first delivery that failed (refused, or not stored) forgets its nonce: the gateway's retry
  // must count as a first delivery again, not as a duplicate of one that had no effect.
  const forgetFailedDelivery = async (req: FastifyRequest) => {
    const seen = req.callbackNonce;
    if (seen && !seen.duplicate) await tc.callbackNonces.forget(seen.nonce, seen.bodySha256).catch((err: unknown) => req.log.warn({ err }, 'forgetting a callback nonce failed'));
  };

  app.post('/v1/callbacks/payments/:channel', {
    schema: {
      summary: 'Payment gateway callback (signed with the callback secret, no API key)',
      security: [],
      params: Type.Object({ channel: Type.String() }),
      response: { 200: Type.Object({ code: Type.String() }), ...errorResponses },
    },
    // The signature is checked before the body schema: an unsigned body is not worth parsing.
    preValidation: verifySignature,
    onError: forgetFailedDelivery,
    handler: async (req, reply) => {
      const body = decodePaymentCallback(req.params.channel, req.headers['content-type'], req.rawBody ?? '');
      if (!body) throw new TradeError('INVALID_REQUEST', `not a ${req.params.channel} payment callback`);
      bindTxnNo(req, reply, body.txnNo);
      const view = await tc.host.view(body.txnNo);
      const leg = view?.legs.find((l) => l.paymentNo === body.paymentNo);
      if (!view || !leg) throw new TradeError('NOT_FOUND', `no payment ${body.paymentNo} of transaction ${body.txnNo}`);
      if (leg.amount !== body.amountFen || view.merchantId !== body.merchantId || leg.method !== req.params.channel || body.channel !== leg.method) {
        req.log.warn({ paymentNo: body.paymentNo }, 'callback does not match our record');
        throw new TradeError('AMOUNT_MISMATCH', 'the callback does not match the payment on record', { paymentNo: body.paymentNo });
      }
      if (req.callbackNonce?.duplicate) await noteDuplicate(req, body.txnNo, { channel: req.params.channel, paymentNo: body.paymentNo });
      else await tc.host.notify(body.txnNo, (at) => ({ type: 'PAYMENT_CALLBACK', at, paymentNo: body.paymentNo }));
      return { code: 'SUCCESS' };
    },
  });

  app.post('/v1/callbacks/refunds/:channel', {
    schema: {
      summary: 'Refund callback (signed with the callback secret, no API key)',
      security: [],
      params: Type.Object({ channel: Type.String() }),
      response: { 200: Type.Object({ code: Type.String() }), ...errorResponses },
    },
    preValidation: verifySignature,
    onError: forgetFailedDelivery,
    handler: async (req, reply) => {
      const body = decodeRefundCallback(req.params.channel, req.headers['content-type'], req.rawBody ?? '');
      if (!body) throw new TradeError('INVALID_REQUEST', `not a ${req.params.channel} refund callback`);
      bindTxnNo(req, reply, body.txnNo);
      const view = await tc.host.view(body.txnNo);
      // A refund leg of a refund, or the refund giving back a leg captured for a sale that did not happen.
      const leg = view?.refunds.flatMap((r) => r.legs).find((l) => l.refundLegNo === body.refundNo) ?? view?.legs.find((l) => l.giveBack?.refundNo === body.refundNo);
      if (!view || !leg) throw new TradeError('NOT_FOUND', `no refund ${body.refundNo} of transaction ${body.txnNo}`);
      if (leg.amount !== body.amountFen || view.merchantId !== body.merchantId || leg.method !== req.params.channel) {
        throw new TradeError('AMOUNT_MISMATCH', 'the refund callback does not match the refund on record', { refundNo: body.refundNo });
      }
      if (req.callbackNonce?.duplicate) await noteDuplicate(req, body.txnNo, { channel: req.params.channel, refundNo: body.refundNo });
      else await tc.host.notify(body.txnNo, (at) => ({ type: 'REFUND_CALLBACK', at, refundLegNo: body.refundNo }));
      return { code: 'SUCCESS' };
    },
  });
};
