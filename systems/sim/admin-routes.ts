import type { FastifyError, FastifyPluginAsync, FastifyReply } from 'fastify';
import type { SystemName } from '../contract.ts';
import type { CallbackSettings, HistoricPayment } from '../payment-gateway/simulator.ts';
import { IdempotencyConflictError } from './store.ts';
import type { FaultSettings } from './faults.ts';
import { SIMULATED_OPERATIONS, type Simulators } from './index.ts';

/** Options of {@link simAdminRoutes}; mount it with `{ prefix: '/sim', sims }`. */
export interface SimAdminOptions {
  sims: Simulators;
}

const error = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

const payment = {
  type: 'object',
  required: ['paymentNo', 'txnNo', 'merchantId', 'channel', 'amountFen', 'status'],
  properties: {
    paymentNo: { type: 'string' },
    txnNo: { type: 'string' },
    merchantId: { type: 'string' },
    channel: { type: 'string' },
    amountFen: { type: 'integer' },
    status: { type: 'string', enum: ['pending', 'succeeded', 'closed', 'failed'] },
    channelTradeNo: { type: 'string' },
    paidAt: { type: 'string' },
    refundedFen: { type: 'integer' },
  },
} as const;

const refund = {
  type: 'object',
  required: ['refundNo', 'paymentNo', 'txnNo', 'merchantId', 'channel', 'amountFen', 'status', 'channelRefundNo', 'requestedAt'],
  properties: {
    refundNo: { type: 'string' },
    paymentNo: { type: 'string' },
    txnNo: { type: 'string' },
    merchantId: { type: 'string' },
    channel: { type: 'string' },
    amountFen: { type: 'integer' },
    status: { type: 'string', enum: ['pending', 'succeeded', 'failed'] },
    channelRefundNo: { type: 'string' },
    requestedAt: { type: 'string' },
    refundedAt: { type: 'string' },
  },
} as const;

const callback = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    refundNo: { type: ['string', 'null'] },
    path: { type: 'string' },
    contentType: { type: 'string' },
    body: { type: 'string' },
    lastUrl: { type: ['string', 'null'] },
    dueAt: { type: 'integer' },
    attempts: { type: 'integer' },
    deliveredAt: { type: ['integer', 'null'] },
    lastError: { type: ['string', 'null'] },
  },
} as const;

const card = {
  type: 'object',
  properties: {
    cardNo: { type: 'string' },
    userId: { type: 'string' },
    availableFen: { type: 'integer' },
    lockedFen: { type: 'integer' },
  },
} as const;

const cardLock = {
  type: 'object',
  properties: {
    lockKey: { type: 'string' },
    amountFen: { type: 'integer' },
    status: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

const lockStatus = { type: 'string', enum: ['locked', 'confirmed', 'cancelled'] } as const;

const goodsStock = {
  type: 'object',
  properties: {
    stationId: { type: 'string' },
    sku: { type: 'string' },
    name: { type: 'string' },
    category: { type: 'string' },
    priceFen: { type: 'integer' },
    availableStock: { type: 'integer' },
    reservedStock: { type: 'integer' },
  },
} as const;

const goodsReservation = {
  type: 'object',
  properties: {
    lockKey: { type: 'string' },
    stationId: { type: 'string' },
    items: {
      type: 'array',
      items: { type: 'object', properties: { sku: { type: 'string' }, quantity: { type: 'integer' } } },
    },
    status: lockStatus,
    updatedAt: { type: 'string' },
  },
} as const;

// Benefit and scope are passed through as the dataset gave them; their schema is the dataset's.
const coupon = {
  type: 'object',
  properties: {
    couponId: { type: 'string' },
    userId: { type: 'string' },
    name: { type: 'string' },
    benefit: { type: 'object', additionalProperties: true },
    scope: { type: 'object', additionalProperties: true },
    validFrom: { type: 'string' },
    validTo: { type: 'string' },
    stackableWithPromotions: { type: 'boolean' },
    status: { type: 'string', enum: ['available', 'locked', 'used'] },
    lockKey: { type: ['string', 'null'] },
  },
} as const;

const couponLock = {
  type: 'object',
  properties: {
    lockKey: { type: 'string' },
    userId: { type: 'string' },
    couponIds: { type: 'array', items: { type: 'string' } },
    status: lockStatus,
    updatedAt: { type: 'string' },
  },
} as const;

const pointsAccount = {
  type: 'object',
  properties: {
    userId: { type: 'string' },
    balance: { type: 'integer' },
    locked: { type: 'integer' },
    rule: {
      type: 'object',
      properties: { pointsPerYuan: { type: 'integer' }, step: { type: 'integer' }, maxRatioBp: { type: 'integer' } },
    },
  },
} as const;

const pointsLock = {
  type: 'object',
  properties: {
    lockKey: { type: 'string' },
    points: { type: 'integer' },
    status: lockStatus,
    updatedAt: { type: 'string' },
  },
} as const;

const order = {
  type: 'object',
  properties: {
    orderNo: { type: 'string' },
    txnNo: { type: 'string' },
    merchantId: { type: 'string' },
    stationId: { type: 'string' },
    userId: { type: 'string' },
    status: { type: 'string', enum: ['created', 'paid', 'cancelled'] },
    originalAmountFen: { type: 'integer' },
    discountAmountFen: { type: 'integer' },
    payableAmountFen: { type: 'integer' },
    lines: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          lineNo: { type: 'integer' },
          type: { type: 'string' },
          description: { type: 'string' },
          amount: { type: 'integer' },
          netAmount: { type: 'integer' },
          volumeMl: { type: 'integer' },
        },
      },
    },
  },
} as const;

const opFaults = {
  type: 'object',
  additionalProperties: false,
  properties: {
    latencyMs: { type: 'integer', minimum: 0 },
    failRate: { type: 'number', minimum: 0, maximum: 1 },
    failNext: { type: 'integer', minimum: 0 },
    outage: { type: 'boolean' },
    hang: { type: 'boolean' },
    delayAfterEffectMs: { type: 'integer', minimum: 0 },
    failAfterEffect: { anyOf: [{ type: 'boolean' }, { type: 'integer', minimum: 0 }] },
  },
} as const;

const faultSettings = {
  type: 'object',
  description: 'Fault knobs per operation name, or `*` for every operation of the system',
  additionalProperties: opFaults,
} as const;

// Response side of fault settings: `anyOf` would make the serializer guess, a type list does not.
const faultSettingsOut = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    properties: { ...opFaults.properties, failAfterEffect: { type: ['boolean', 'integer'] } },
  },
} as const;

const systemParam = {
  type: 'object',
  required: ['system'],
  properties: { system: { type: 'string', enum: Object.keys(SIMULATED_OPERATIONS) } },
} as const;

const gatewaySettings = {
  type: 'object',
  properties: {
    callbackDelayMs: { type: 'integer', minimum: 0 },
    duplicateCallbacks: { type: 'integer', minimum: 1, maximum: 20 },
    dropCallbacks: { type: 'boolean' },
    reorderCallbacks: { type: 'boolean' },
    refundDelayMs: { type: 'integer', minimum: 0 },
    failRefunds: { type: 'boolean' },
  },
} as const;

const param = (name: string) =>
  ({ type: 'object', required: [name], properties: { [name]: { type: 'string', minLength: 1 } } }) as const;

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: { code, message } });
}

const REFUSAL_STATUS: Record<string, number> = { PAYMENT_NOT_FOUND: 404 };

/**
 * The simulators' admin API, mounted under `/sim`:
 * - `POST /payments/:paymentNo/pay` the customer pays (a signed callback follows);
 *   `POST /payments/:paymentNo/fail` the channel declines;
 *   `POST /payments/:paymentNo/force-pay` (tests) the channel captures the money even though the
 *   payment was closed or expired, the race the platform answers with an automatic refund;
 *   all three answer `{ payment }`;
 * - `GET /payments/:paymentNo` `{ payment, refunds, callbacks }`, `GET /refunds/:refundNo`
 *   `{ refund, callbacks }`, `GET /cards/:cardNo` `{ card, locks }`,
 *   `GET /orders/:orderNo` `{ order }`, `GET /effects?system=&verb=&key=` `{ effects }`;
 * - `GET /goods/:stationId/:sku` `{ stock, reservations }` (the reservations holding that SKU),
 *   `GET /coupons/:userId` `{ coupons, locks }` (every coupon, whatever its status),
 *   `GET /coupon/:couponId` `{ coupon }`,
 *   `GET /points/:userId` `{ account, locks }`;
 * - `GET /faults`, `PUT /faults/:system` (replaces that system's settings), `DELETE /faults`;
 * - `PUT /callback-target` `{ baseUrl, secret }` where the gateway calls back from now on (a
 *   `trade sim` learns the platform's URL after the platform listens);
 * - `PUT /gateway` callback delay / duplicates / drop / reorder, refund delay and failure (fields
 *   left out keep their value; answers the settings in force).
 *
 * Reads bypass fault injection: an admin looking during a simulated outage still sees the state.
 * Errors are `{ error: { code, message } }`.
 */
export const simAdminRoutes: FastifyPluginAsync<SimAdminOptions> = async function simAdminRoutes(app, { sims }) {
  const { gateway, systems, store, faults } = sims;

  app.setErrorHandler((err: FastifyError, _request, reply) => {
    if (err.validation) return sendError(reply, 400, 'INVALID_REQUEST', err.message);
    app.log.error(err);
    return sendError(reply, 500, 'INTERNAL', 'Internal error.');
  });

  const actions = { pay: 'pay', fail: 'fail', 'force-pay': 'forcePay' } as const;
  for (const [path, action] of Object.entries(actions)) {
    app.post<{ Params: { paymentNo: string } }>(`/payments/:paymentNo/${path}`, {
      schema: {
        params: param('paymentNo'),
        response: { 200: { type: 'object', properties: { payment } }, 404: error, 409: error },
      },
    }, async (request, reply) => {
      const outcome = await gateway[action](request.params.paymentNo);
      if (!outcome.ok) return sendError(reply, REFUSAL_STATUS[outcome.code] ?? 409, outcome.code, outcome.message);
      return { payment: outcome.payment };
    });
  }

  app.get<{ Params: { paymentNo: string } }>('/payments/:paymentNo', {
    schema: {
      params: param('paymentNo'),
      response: {
        200: { type: 'object', properties: { payment, refunds: { type: 'array', items: refund }, callbacks: { type: 'array', items: callback } } },
        404: error,
      },
    },
  }, async (request, reply) => {
    const found = gateway.peekPayment(request.params.paymentNo);
    if (!found) return sendError(reply, 404, 'NOT_FOUND', `no payment ${request.params.paymentNo}`);
    return { payment: found, refunds: gateway.peekRefunds(found.paymentNo), callbacks: gateway.callbacks(found.paymentNo) };
  });

  // Issue 20: payments the real channel took before the platform (OS history), so the simulated
  // gateway refunds them as the channel would; the same admission as in process.
  app.post<{ Body: { payments: HistoricPayment[] } }>('/historic-payments', {
    schema: {
      body: {
        type: 'object',
        required: ['payments'],
        additionalProperties: false,
        properties: {
          payments: {
            type: 'array',
            items: {
              type: 'object',
              required: ['paymentNo', 'txnNo', 'merchantId', 'channel', 'amountFen', 'channelTradeNo', 'paidAt', 'refunds'],
              additionalProperties: false,
              properties: {
                paymentNo: { type: 'string', minLength: 1 },
                txnNo: { type: 'string', minLength: 1 },
                merchantId: { type: 'string', minLength: 1 },
                channel: { type: 'string', enum: ['wechat', 'alipay', 'unionpay', 'senseless'] },
                amountFen: { type: 'integer', minimum: 1 },
                channelTradeNo: { type: 'string', minLength: 1 },
                paidAt: { type: 'string', minLength: 1 },
                refunds: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['refundNo', 'amountFen', 'refundedAt'],
                    additionalProperties: false,
                    properties: { refundNo: { type: 'string', minLength: 1 }, amountFen: { type: 'integer', minimum: 1 }, refundedAt: { type: 'string', minLength: 1 } },
                  },
                },
              },
            },
          },
        },
      },
      response: { 200: { type: 'object', properties: { admitted: { type: 'integer' }, alreadyAdmitted: { type: 'integer' } } }, 400: error, 409: error },
    },
  }, async (request, reply) => {
    try {
      return gateway.admitHistoricPayments(request.body.payments);
    } catch (err) {
      if (err instanceof IdempotencyConflictError) return sendError(reply, 409, 'IDEMPOTENCY_CONFLICT', err.message);
      if (err instanceof RangeError) return sendError(reply, 400, 'INVALID_REQUEST', err.message);
      throw err;
    }
  });

  app.get<{ Params: { refundNo: string } }>('/refunds/:refundNo', {
    schema: {
      params: param('refundNo'),
      response: { 200: { type: 'object', properties: { refund, callbacks: { type: 'array', items: callback } } }, 404: error },
    },
  }, async (request, reply) => {
    const found = gateway.peekRefund(request.params.refundNo);
    if (!found) return sendError(reply, 404, 'NOT_FOUND', `no refund ${request.params.refundNo}`);
    return { refund: found, callbacks: gateway.refundCallbacks(found.refundNo) };
  });

  app.get<{ Params: { cardNo: string } }>('/cards/:cardNo', {
    schema: {
      params: param('cardNo'),
      response: { 200: { type: 'object', properties: { card, locks: { type: 'array', items: cardLock } } }, 404: error },
    },
  }, async (request, reply) => {
    const found = systems.storedValue.peekCard(request.params.cardNo);
    if (!found) return sendError(reply, 404, 'NOT_FOUND', `no card ${request.params.cardNo}`);
    return { card: found, locks: systems.storedValue.peekLocks(found.cardNo) };
  });

  app.get<{ Params: { orderNo: string } }>('/orders/:orderNo', {
    schema: { params: param('orderNo'), response: { 200: { type: 'object', properties: { order } }, 404: error } },
  }, async (request, reply) => {
    const found = systems.order.peekOrder(request.params.orderNo);
    if (!found) return sendError(reply, 404, 'NOT_FOUND', `no order ${request.params.orderNo}`);
    return { order: found };
  });

  app.get<{ Params: { stationId: string; sku: string } }>('/goods/:stationId/:sku', {
    schema: {
      params: { type: 'object', required: ['stationId', 'sku'], properties: { stationId: { type: 'string', minLength: 1 }, sku: { type: 'string', minLength: 1 } } },
      response: { 200: { type: 'object', properties: { stock: goodsStock, reservations: { type: 'array', items: goodsReservation } } }, 404: error },
    },
  }, async (request, reply) => {
    const { stationId, sku } = request.params;
    const stock = systems.goods.peekStock(stationId, sku);
    if (!stock) return sendError(reply, 404, 'NOT_FOUND', `station ${stationId} does not sell ${sku}`);
    const reservations = systems.goods.peekReservations(stationId).filter((r) => r.items.some((i) => i.sku === sku));
    return { stock, reservations };
  });

  app.get<{ Params: { userId: string } }>('/coupons/:userId', {
    schema: {
      params: param('userId'),
      response: { 200: { type: 'object', properties: { coupons: { type: 'array', items: coupon }, locks: { type: 'array', items: couponLock } } } },
    },
  }, async (request) => ({
    coupons: systems.coupon.peekCoupons(request.params.userId),
    locks: systems.coupon.peekLocks(request.params.userId),
  }));

  app.get<{ Params: { couponId: string } }>('/coupon/:couponId', {
    schema: { params: param('couponId'), response: { 200: { type: 'object', properties: { coupon } }, 404: error } },
  }, async (request, reply) => {
    const found = systems.coupon.peekCoupon(request.params.couponId);
    if (!found) return sendError(reply, 404, 'NOT_FOUND', `no coupon ${request.params.couponId}`);
    return { coupon: found };
  });

  // Knobs for a callee that refuses to take back what a refund returns (issue 15, point 5).
  app.post<{ Params: { couponId: string } }>('/coupon/:couponId/withdraw', {
    schema: { params: param('couponId'), response: { 204: { type: 'null' } } },
  }, async (request, reply) => {
    systems.coupon.withdraw(request.params.couponId);
    return reply.status(204).send();
  });

  app.post<{ Params: { userId: string } }>('/points/:userId/close', {
    schema: { params: param('userId'), response: { 204: { type: 'null' } } },
  }, async (request, reply) => {
    systems.points.closeAccount(request.params.userId);
    return reply.status(204).send();
  });

  app.get<{ Params: { userId: string } }>('/points/:userId', {
    schema: {
      params: param('userId'),
      response: { 200: { type: 'object', properties: { account: pointsAccount, locks: { type: 'array', items: pointsLock } } }, 404: error },
    },
  }, async (request, reply) => {
    const account = systems.points.peekPointsAccount(request.params.userId);
    if (!account) return sendError(reply, 404, 'NOT_FOUND', `no points account for ${request.params.userId}`);
    return { account, locks: systems.points.peekLocks(account.userId) };
  });

  app.get<{ Querystring: { system?: string; verb?: string; key?: string } }>('/effects', {
    schema: {
      querystring: {
        type: 'object',
        properties: { system: { type: 'string' }, verb: { type: 'string' }, key: { type: 'string' } },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            effects: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  id: { type: 'integer' },
                  system: { type: 'string' },
                  verb: { type: 'string' },
                  key: { type: 'string' },
                  detail: { type: ['string', 'null'] },
                  at: { type: 'string' },
                },
              },
            },
          },
        },
      },
    },
  }, async (request) => ({ effects: store.effects(request.query) }));

  app.get('/faults', {
    schema: { response: { 200: { type: 'object', additionalProperties: faultSettingsOut } } },
  }, async () => Object.fromEntries(Object.entries(faults).map(([name, f]) => [name, f.current()])));

  app.put<{ Params: { system: SystemName }; Body: FaultSettings }>('/faults/:system', {
    schema: {
      params: systemParam,
      body: faultSettings,
      response: { 200: faultSettingsOut, 400: error },
    },
  }, async (request, reply) => {
    const { system } = request.params;
    const known = SIMULATED_OPERATIONS[system];
    const unknown = Object.keys(request.body).filter((op) => op !== '*' && !known.includes(op));
    if (unknown.length > 0) {
      return sendError(reply, 400, 'INVALID_REQUEST', `${system} has no operation ${unknown.join(', ')} (known: *, ${known.join(', ')})`);
    }
    faults[system].configure(request.body);
    return faults[system].current();
  });

  app.delete('/faults', {
    schema: { response: { 204: { type: 'null' } } },
  }, async (_request, reply) => {
    for (const f of Object.values(faults)) f.clear();
    return reply.code(204).send();
  });

  app.put<{ Body: { baseUrl: string; secret: string } }>('/callback-target', {
    schema: {
      body: {
        type: 'object',
        required: ['baseUrl', 'secret'],
        additionalProperties: false,
        properties: { baseUrl: { type: 'string', pattern: '^https?://' }, secret: { type: 'string', minLength: 1 } },
      },
      response: { 200: { type: 'object', properties: { baseUrl: { type: 'string' } } }, 400: error },
    },
  }, async (request) => {
    const { baseUrl, secret } = request.body;
    gateway.setCallbackTarget(baseUrl, secret);
    return { baseUrl };
  });

  app.put<{ Body: Partial<CallbackSettings> }>('/gateway', {
    schema: {
      body: gatewaySettings,
      response: { 200: gatewaySettings, 400: error },
    },
  }, async (request) => gateway.configureCallbacks(request.body));
};

Object.assign(simAdminRoutes, {
  // A name for fastify's plugin tree and errors, without `skip-override`: the plugin stays
  // encapsulated, so its error handler and the `/sim` prefix apply to its routes only.
  [Symbol.for('fastify.display-name')]: 'sim-admin',
  [Symbol.for('plugin-meta')]: { name: 'sim-admin', fastify: '5.x' },
});
