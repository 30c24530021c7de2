/**
 * A bill's text as lines, streamed: bytes (or text chunks) in, one line at a time out, so a
 * parser holds one line however large the bill. Lines end at `\n` (a `\r` before it is dropped);
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

/** The lines of a source, each without its line ending. A last line without `\n` is yielded too. */
export async function* billLines(source: BillSource, decoder: StreamDecoder = utf8Decoder()): AsyncGenerator<string> {
  let rest = '';
  let first = true;
  const split = function* (text: string): Generator<string> {
    let buffered = rest + text;
    if (first && buffered.length > 0) {
      first = false;
      if (buffered.charCodeAt(0) === 0xfeff) buffered = buffered.slice(1);
    }
    let start = 0;
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n', start)) {
      const end = nl > start && buffered.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      yield buffered.slice(start, end);
      start = nl + 1;
    }
    rest = buffered.slice(start);
  };
  for await (const chunk of source) yield* split(typeof chunk === 'string' ? chunk : decoder.write(chunk));
  yield* split(decoder.end());
  if (rest.length > 0) yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
}
