import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';

/** A progress indicator for long work; a no-op where nobody watches. */
export interface Progress {
  increment(by?: number): void;
  setTotal(total: number): void;
  stop(): void;
}

/**
 * Where a command writes: its output (tables or JSON) to `out`, progress and notices to `err`.
 * Commands take this instead of touching `process`, so tests run them in-process.
 */
export interface CliIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** Epoch ms: "idle for …" and "… ago" are measured from here. */
  now(): number;
  progress(label: string, total: number): Progress;
}

const silentProgress: Progress = { increment: () => undefined, setTotal: () => undefined, stop: () => undefined };

/** The process's own streams; a progress bar on stderr only when stderr is a terminal. */
export function processIo(): CliIo {
  return {
    out: process.stdout,
    err: process.stderr,
    now: () => Date.now(),
    progress(label, total) {
      if (!process.stderr.isTTY) return silentProgress;
      const bar = new SingleBar({ stream: process.stderr, format: `${label} [{bar}] {value}/{total}`, clearOnComplete: true, hideCursor: true });
      bar.start(total, 0);
      return { increment: (by = 1) => bar.increment(by), setTotal: (t) => bar.setTotal(t), stop: () => bar.stop() };
    },
  };
}

/** Plain-text table (no colours: the output is as readable in a log file or a test as on a terminal). */
export function table(head: string[], rows: (string | number | null | undefined)[][]): string {
  const t = new Table({ head, style: { head: [], border: [], compact: true } });
  for (const row of rows) t.push(row.map((cell) => (cell === null || cell === undefined ? '' : String(cell))));
  return t.toString();
}

/** Fen as yuan with two decimals (30000 → `300.00`). */
export function yuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** A duration in the largest unit that reads well (`42s`, `17m`, `3h`, `2d`). */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** A statechart value on one line: `paying.awaitingLegs`, parallel regions joined with `, `. */
export function stateText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const parts = Object.entries(value as Record<string, unknown>).map(([key, sub]) => {
      const inner = stateText(sub);
      return inner ? `${key}.${inner}` : key;
    });
    return parts.length === 1 ? parts[0]! : `(${parts.join(', ')})`;
  }
  return '';
}

export function writeJson(io: CliIo, value: unknown): void {
  io.out.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function writeLine(io: CliIo, text = ''): void {
  io.out.write(`${text}\n`);
}
