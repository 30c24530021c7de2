import type { FastifyInstance } from 'fastify';
import { TradeError } from '../domain/errors.ts';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * The body as text, refusing bytes that are not UTF-8 (API.md Conventions). Decoding leniently
 * would store U+FFFD in place of what the client sent: a name or a reason silently changed.
 */
export function utf8Body(body: Buffer): string {
  try {
    return strictUtf8.decode(body);
  } catch {
    throw new TradeError('INVALID_REQUEST', 'the body is not valid UTF-8');
  }
}

/**
 * JSON bodies checked for UTF-8 before fastify's own parser (which keeps its guard against
 * `__proto__` and `constructor.prototype` keys) reads them.
 */
export function installJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    let text: string;
    try {
      text = utf8Body(body as Buffer);
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)), undefined);
      return;
    }
    parseJson(req, text, done);
  });
}
