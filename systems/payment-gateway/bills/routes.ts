import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { BillChannel } from '../../../domain/reconciliation/bill-row.ts';
import { BILL_INJECTION_KINDS, BillInjectionError, type BillInjectionRequest, type ChannelBills } from './channel-bills.ts';

const CHANNELS: readonly BillChannel[] = ['wechat', 'alipay', 'unionpay', 'senseless'];
const day = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' } as const;

/** Options of {@link wechatBillRoutes} and {@link simBillRoutes}. */
export interface BillRouteOptions {
  bills: ChannelBills;
}

function sendFile(reply: FastifyReply, file: { bytes: Uint8Array; contentType: string; fileName: string; sha1: string }) {
  return reply
    .header('content-type', file.contentType)
    .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(file.fileName)}`)
    .header('x-bill-sha1', file.sha1)
    .send(Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength));
}

/**
 * WeChat Pay v3's bill download, simulated: `GET /v3/bill/tradebill?bill_date=…&bill_type=ALL`
 * answers `{hash_type: "SHA1", hash_value, download_url}`; the URL serves the file. A day not
 * over yet answers 400 `{"code":"STATEMENT_CREATING"}` as WeChat does while it builds a bill.
 */
export const wechatBillRoutes: FastifyPluginAsync<BillRouteOptions> = async (app, { bills }) => {
  app.get<{ Querystring: { bill_date: string; bill_type?: string } }>('/v3/bill/tradebill', {
    schema: { querystring: { type: 'object', required: ['bill_date'], properties: { bill_date: { type: 'string' }, bill_type: { type: 'string' } } } },
  }, async (request, reply) => {
    const { bill_date: date, bill_type: type = 'ALL' } = request.query;
    if (type !== 'ALL') return reply.code(400).send({ code: 'PARAM_ERROR', message: `bill_type ${type} is not simulated; use ALL` });
    const got = bills.bill('wechat', date);
    if (!got.ok) return reply.code(400).send({ code: got.code === 'INVALID_REQUEST' ? 'PARAM_ERROR' : got.code, message: got.message });
    const host = request.headers.host ?? 'localhost';
    const token = `${date}.${got.file.sha1}`;
    return { hash_type: 'SHA1', hash_value: got.file.sha1, download_url: `${request.protocol}://${host}/v3/billdownload/file?token=${token}` };
  });

  app.get<{ Querystring: { token: string } }>('/v3/billdownload/file', {
    schema: { querystring: { type: 'object', required: ['token'], properties: { token: { type: 'string' } } } },
  }, async (request, reply) => {
    const [date = '', sha1] = request.query.token.split('.');
    const got = bills.bill('wechat', date);
    if (!got.ok) return reply.code(400).send({ code: got.code === 'INVALID_REQUEST' ? 'PARAM_ERROR' : got.code, message: got.message });
    // The bill changed since the link was given (an injection meanwhile): the link is stale.
    if (got.file.sha1 !== sha1) return reply.code(400).send({ code: 'INVALID_REQUEST', message: 'the download link has expired; ask /v3/bill/tradebill again' });
    return sendFile(reply, got.file);
  });
};

const injection = {
  type: 'object',
  required: ['channel', 'date', 'kind'],
  additionalProperties: false,
  properties: {
    channel: { type: 'string', enum: CHANNELS },
    date: day,
    kind: { type: 'string', enum: BILL_INJECTION_KINDS },
    merchantRef: { type: 'string' },
    rowKind: { type: 'string', enum: ['payment', 'refund'] },
    deltaFen: { type: 'integer', minimum: 1 },
    amountFen: { type: 'integer', minimum: 1 },
  },
} as const;

/**
 * The `/sim/bills` admin routes: any channel's bill of a day (the file, its SHA-1 in
 * `x-bill-sha1`), planting discrepancies into it, and the record of what was planted.
 */
export const simBillRoutes: FastifyPluginAsync<BillRouteOptions> = async (app, { bills }) => {
  app.get<{ Params: { channel: BillChannel; date: string } }>('/bills/:channel/:date', {
    schema: { params: { type: 'object', required: ['channel', 'date'], properties: { channel: { type: 'string', enum: CHANNELS }, date: day } } },
  }, async (request, reply) => {
    const got = bills.bill(request.params.channel, request.params.date);
    if (!got.ok) return reply.code(got.code === 'STATEMENT_CREATING' ? 409 : 400).send({ error: { code: got.code, message: got.message } });
    return sendFile(reply, got.file);
  });

  app.post<{ Body: BillInjectionRequest }>('/bills/injections', { schema: { body: injection } }, async (request, reply) => {
    try {
      return reply.code(201).send({ planted: bills.inject(request.body) });
    } catch (err) {
      if (err instanceof BillInjectionError) return reply.code(409).send({ error: { code: 'NOTHING_TO_INJECT', message: err.message } });
      throw err;
    }
  });

  app.get<{ Querystring: { channel?: BillChannel; date?: string } }>('/bills/injections', {
    schema: { querystring: { type: 'object', properties: { channel: { type: 'string', enum: CHANNELS }, date: day } } },
  }, async (request) => ({ planted: bills.planted(request.query) }));

  app.delete('/bills/injections', async () => {
    bills.clearInjections();
    return { planted: [] };
  });
};
