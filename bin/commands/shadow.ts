import { Command } from 'commander';
import { table, writeJson, writeLine, yuan, type CliIo } from './cli-io.ts';
import { HttpSource } from './http-source.ts';
import { withServer, type ServerOptions } from './routing.ts';
import { DEFAULT_URL } from './target.ts';

interface Agreement {
  total: number;
  agreeing: number;
  agreementRate: number | null;
}

interface ReportAnswer {
  groups: (Agreement & { stationId: string; scene: string })[];
  total: Agreement;
  differences: {
    shadowId: string;
    stationId: string;
    scene: string;
    quotedAt: string;
    legacy: { ref: string | null };
    differences: { kind: string; discount?: string; code?: string }[];
    breakdown: { item: string; name: string | null; legacyFen: number | null; platformFen: number | null }[];
  }[];
  nextCursor: string | null;
}

interface ReportOptions extends ServerOptions {
  from?: string;
  to?: string;
  station?: string;
  scene?: string;
  merchant?: string;
  limit: number;
  cursor?: string;
}

const percent = (rate: number | null) => (rate === null ? '' : `${(rate * 100).toFixed(1)} %`);
const fen = (v: number | null) => (v === null ? '—' : yuan(v));

/** What a difference is, in a few words: `payable`, `missing-in-legacy promotion:P1`, `platform-refused UNKNOWN_NOZZLE`. */
const what = (d: { kind: string; discount?: string; code?: string }) => [d.kind, d.discount ?? d.code].filter(Boolean).join(' ');

/** `trade shadow report`: the shadow quotes' agreement per station and scene, and each difference with both breakdowns side by side. */
export function shadowCommand(io: CliIo): Command {
  const shadow = new Command('shadow').description('shadow quotes: the platform quoting beside the old system (issue 20)');
  withServer(shadow.command('report'))
    .description('agreement rate per station and scene, and each difference with the old system\'s and the platform\'s breakdown side by side')
    .option('--from <when>', 'quoted at or after (YYYY-MM-DD China time, or an ISO date-time)')
    .option('--to <when>', 'quoted before (YYYY-MM-DD China time, or an ISO date-time)')
    .option('--station <id>', 'only this station')
    .option('--scene <scene>', 'only this scene')
    .option('--merchant <id>', 'only this merchant')
    .option('--limit <n>', 'differences per page (at most 200)', (v) => Number(v), 50)
    .option('--cursor <cursor>', 'the next page of differences (printed after a full page)')
    .action(async (opts: ReportOptions) => {
      const query = new URLSearchParams();
      for (const [name, value] of [['from', opts.from], ['to', opts.to], ['stationId', opts.station], ['scene', opts.scene], ['merchantId', opts.merchant], ['cursor', opts.cursor]] as const) {
        if (value) query.set(name, value);
      }
      query.set('limit', String(opts.limit));
      const answer = await new HttpSource(opts.url ?? DEFAULT_URL, opts.key).call<ReportAnswer>('GET', `/admin/shadow/report?${query.toString()}`);
      if (opts.json) return writeJson(io, answer);
      writeLine(io, `${answer.total.total} shadow quote(s), ${answer.total.agreeing} agreeing (${percent(answer.total.agreementRate) || 'none'})`);
      if (answer.groups.length) writeLine(io, table(['station', 'scene', 'quotes', 'agreeing', 'rate'], answer.groups.map((g) => [g.stationId, g.scene, g.total, g.agreeing, percent(g.agreementRate)])));
      if (!answer.differences.length) return;
      writeLine(io, `differences (${answer.differences.length}${answer.nextCursor ? ' on this page' : ''}), legacy beside platform in yuan:`);
      const rows = answer.differences.flatMap((d) =>
        d.breakdown.map((b, i) => [
          i === 0 ? d.shadowId : '',
          i === 0 ? d.stationId : '',
          i === 0 ? d.scene : '',
          i === 0 ? d.quotedAt : '',
          i === 0 ? (d.legacy.ref ?? '') : '',
          i === 0 ? d.differences.map(what).join('\n') : '',
          b.name ? `${b.item} (${b.name})` : b.item,
          fen(b.legacyFen),
          fen(b.platformFen),
        ]),
      );
      writeLine(io, table(['shadowId', 'station', 'scene', 'quoted at', 'legacy ref', 'differs in', 'item', 'legacy', 'platform'], rows));
      if (answer.nextCursor) writeLine(io, `more with --cursor ${answer.nextCursor}`);
    });
  return shadow;
}
