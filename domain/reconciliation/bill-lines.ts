/**
 * A bill's text as lines, streamed: bytes (or text chunks) in, the complete lines of each chunk out, so a
 * parser holds one chunk of lines however large the bill. Lines end at `\n` (a `\r` before it is dropped);
 * a leading byte-order mark is dropped.
 */

/** Turns a chunk of bytes into text, keeping an incomplete character for the next chunk. */
export interface StreamDecoder {
  write(bytes: Uint8Array): string;
  end(): string;
}

/** UTF-8, as the WeChat and the documented CSV bills are encoded. */
export function utf8Decoder(): StreamDecoder {
  const decoder = new TextDecoder('utf-8');
  return { write: (bytes) => decoder.decode(bytes, { stream: true }), end: () => decoder.decode() };
}

/** The source of a bill: text chunks, or bytes decoded by `decoder` (UTF-8 unless told). */
export type BillSource = AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;

/**
 * The lines of a source in batches (every complete line of a chunk at once), each without its line
 * ending; a last line without `\n` is yielded too. Batches keep the per-line cost synchronous: one
 * await per chunk, not per line.
 */
export async function* billLineBatches(source: BillSource, decoder: StreamDecoder = utf8Decoder()): AsyncGenerator<string[]> {
  let rest = '';
  let first = true;
  const split = (text: string): string[] => {
    let buffered = rest + text;
    if (first && buffered.length > 0) {
      first = false;
      if (buffered.charCodeAt(0) === 0xfeff) buffered = buffered.slice(1);
    }
    const lines: string[] = [];
    let start = 0;
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n', start)) {
      const end = nl > start && buffered.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      lines.push(buffered.slice(start, end));
      start = nl + 1;
    }
    rest = buffered.slice(start);
    return lines;
  };
  for await (const chunk of source) {
    const lines = split(typeof chunk === 'string' ? chunk : decoder.write(chunk));
    if (lines.length > 0) yield lines;
  }
  const lines = split(decoder.end());
  if (rest.length > 0) lines.push(rest.endsWith('\r') ? rest.slice(0, -1) : rest);
  if (lines.length > 0) yield lines;
}
