import { crc32, createInflateRaw, type InflateRaw } from 'node:zlib';

/**
 * One entry of a zip read as the zip streams in, from its local file header (the central directory
 * at the end of the file is never needed): deflate data inflated by zlib's native inflate (a
 * quarter of an Alipay bill's parse went into a JavaScript inflate, issue 19), stored data passed
 * through, its CRC-32 and size checked. Memory holds one piece of input and what it inflates to,
 * however large the entry. Nothing here does I/O: bytes in, bytes out.
 */

/** Input is handed to the inflater in pieces of at most this, so one huge chunk does not inflate into memory at once. */
const PIECE = 1 << 16;

const LOCAL_HEADER = 0x04034b50;
const DATA_DESCRIPTOR = 0x08074b50;
/** Records that follow the last entry: central directory, zip64 end and locator, end of central directory. */
const AFTER_ENTRIES = new Set([0x02014b50, 0x06064b50, 0x07064b50, 0x06054b50, 0x05054b50]);
const STORED = 0;
const DEFLATE = 8;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_DESCRIPTOR = 0x0008;
const FLAG_UTF8_NAME = 0x0800;
const ZIP64_EXTRA = 0x0001;
const UNKNOWN_32 = 0xffffffff;
const METHOD_NAMES: Record<number, string> = { 1: 'shrink', 6: 'implode', 9: 'deflate64', 12: 'bzip2', 14: 'lzma', 93: 'zstd', 95: 'xz', 98: 'ppmd', 99: 'AES encryption' };

/**
 * Bytes from an async source, buffered only as far as a reader asks: a header's few bytes, or the
 * next piece of an entry's data. Bytes taken and not used can be put back.
 */
export class ByteQueue {
  private readonly chunks: Uint8Array[] = [];
  private buffered = 0;
  private ended = false;
  /** Where the next byte to be taken lies in the source. */
  offset = 0;

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  /** Buffers until `n` bytes are ready or the source ends; answers whether they are. */
  async want(n: number): Promise<boolean> {
    while (this.buffered < n && !this.ended) {
      const next = await this.source.next();
      if (next.done) this.ended = true;
      else if (next.value.length > 0) {
        this.chunks.push(next.value);
        this.buffered += next.value.length;
      }
    }
    return this.buffered >= n;
  }

  /** The first `n` bytes buffered (at most), left in place. */
  peek(n: number): Uint8Array {
    return this.copy(Math.min(n, this.buffered), false);
  }

  /** The next `n` bytes, which {@link want} has buffered, taken. */
  take(n: number): Uint8Array {
    if (n > this.buffered) throw new RangeError(`take(${n}) with ${this.buffered} bytes buffered`);
    return this.copy(n, true);
  }

  /** At most `max` of the next bytes, taken; null once the source has ended. */
  async next(max: number): Promise<Uint8Array | null> {
    if (!(await this.want(1))) return null;
    const head = this.chunks[0]!;
    return this.take(Math.min(max, head.length));
  }

  /** Puts back the last bytes taken. */
  unshift(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.unshift(bytes);
    this.buffered += bytes.length;
    this.offset -= bytes.length;
  }

  /** Everything left, chunk by chunk. */
  async *rest(): AsyncGenerator<Uint8Array> {
    for (let bytes = await this.next(Infinity); bytes !== null; bytes = await this.next(Infinity)) yield bytes;
  }

  /** Lets the source go (a file closed) when the rest of it is not wanted. */
  async close(): Promise<void> {
    this.chunks.length = 0;
    this.buffered = 0;
    if (!this.ended) {
      this.ended = true;
      await this.source.return?.();
    }
  }

  private copy(n: number, consume: boolean): Uint8Array {
    const head = this.chunks[0];
    let out: Uint8Array;
    if (n === 0) out = new Uint8Array(0);
    else if (head!.length >= n) out = head!.subarray(0, n);
    else {
      out = new Uint8Array(n);
      for (let i = 0, filled = 0; filled < n; i++) {
        const chunk = this.chunks[i]!;
        const part = Math.min(chunk.length, n - filled);
        out.set(chunk.subarray(0, part), filled);
        filled += part;
      }
    }
    if (consume) {
      this.buffered -= n;
      this.offset += n;
      for (let left = n; left > 0;) {
        const chunk = this.chunks[0]!;
        if (chunk.length <= left) {
          this.chunks.shift();
          left -= chunk.length;
        } else {
          this.chunks[0] = chunk.subarray(left);
          left = 0;
        }
      }
    }
    return out;
  }
}

/** What a zip's local file header says of its entry. */
interface LocalEntry {
  name: string;
  flags: number;
  method: number;
  /** From the header; with a data descriptor (flag bit 3) they follow the data instead. */
  crc: number;
  compressedSize: number;
  size: number;
  zip64: boolean;
}

/** How {@link zipEntryBytes} picks its entry. */
export interface ZipEntryChoice {
  /** Whether the entry of this name is the one wanted (the first accepted is read). */
  accept(name: string): boolean;
  /** The wanted entry, in words, for the error when the zip has none. */
  describe: string;
  /**
   * A name without the UTF-8 flag is in the code page of the tool that wrote it (GBK for Chinese
   * ones); latin1 unless told.
   */
  decodeName?(raw: Uint8Array): string;
}

/**
 * The bytes of the first entry `choice` accepts, as the zip streams in from `bytes` (the entries
 * before it skipped), inflated when deflated. Throws, with where and why, when the zip is cut
 * short, corrupt (bad deflate data, a CRC-32 or size unlike the stated one), encrypted, uses a
 * method other than stored or deflate, or has no such entry; the bytes yielded before the end are
 * only known good once the generator has returned.
 */
export async function* zipEntryBytes(bytes: ByteQueue, choice: ZipEntryChoice): AsyncGenerator<Uint8Array> {
  for (;;) {
    const at = bytes.offset;
    if (!(await bytes.want(4))) throw new Error(`the zip ends inside the record at byte ${at}, before its ${choice.describe} (truncated)`);
    const signature = u32(bytes.peek(4), 0);
    if (AFTER_ENTRIES.has(signature)) throw new Error(`the zip has no ${choice.describe}`);
    if (signature !== LOCAL_HEADER) throw new Error(`byte ${at} of the zip is not a local file header: the zip is corrupt`);
    const entry = await localHeader(bytes, choice);
    const wanted = choice.accept(entry.name);
    const sizeKnown = !(entry.flags & FLAG_DESCRIPTOR) || entry.compressedSize > 0;
    if (!wanted && sizeKnown) {
      // Passed over unread, whatever its method: only the wanted entry must be readable.
      await skip(bytes, entry);
      if (entry.flags & FLAG_DESCRIPTOR) await dataDescriptor(bytes, entry);
      continue;
    }
    if (entry.flags & FLAG_ENCRYPTED) throw new Error(`zip entry "${entry.name}" is encrypted, which cannot be read`);
    if (entry.method !== STORED && entry.method !== DEFLATE) {
      const method = METHOD_NAMES[entry.method];
      throw new Error(`zip entry "${entry.name}" is compressed by method ${entry.method}${method ? ` (${method})` : ''}; only stored and deflate entries can be read`);
    }
    if (entry.method === STORED && !sizeKnown) {
      throw new Error(`zip entry "${entry.name}" is stored with its size after the data, which cannot be read as it streams`);
    }
    let crc = 0;
    let size = 0;
    // An entry not wanted whose size only its data descriptor tells is inflated to find its end.
    for await (const piece of entry.method === STORED ? stored(bytes, entry) : inflated(bytes, entry, sizeKnown)) {
      if (!wanted) continue;
      crc = crc32(piece, crc);
      size += piece.length;
      yield piece;
    }
    if (entry.flags & FLAG_DESCRIPTOR) await dataDescriptor(bytes, entry);
    if (!wanted) continue;
    if (crc !== entry.crc || size !== entry.size) {
      throw new Error(`zip entry "${entry.name}" inflates to ${size} bytes of CRC-32 ${hex(crc)}, not the stated ${entry.size} bytes of ${hex(entry.crc)}: the zip is corrupt`);
    }
    return;
  }
}

async function localHeader(bytes: ByteQueue, choice: ZipEntryChoice): Promise<LocalEntry> {
  const at = bytes.offset;
  if (!(await bytes.want(30))) throw new Error(`the zip ends inside the local file header at byte ${at} (truncated)`);
  const head = bytes.take(30);
  const flags = u16(head, 6);
  const nameLength = u16(head, 26);
  const extraLength = u16(head, 28);
  if (!(await bytes.want(nameLength + extraLength))) throw new Error(`the zip ends inside the local file header at byte ${at} (truncated)`);
  const rawName = bytes.take(nameLength).slice();
  const extra = bytes.take(extraLength);
  const name = flags & FLAG_UTF8_NAME ? new TextDecoder('utf-8').decode(rawName) : (choice.decodeName?.(rawName) ?? latin1(rawName));
  let compressedSize = u32(head, 18);
  let size = u32(head, 22);
  let zip64 = false;
  for (let i = 0; i + 4 <= extra.length;) {
    const id = u16(extra, i);
    const length = u16(extra, i + 2);
    if (id === ZIP64_EXTRA) {
      zip64 = true;
      // The zip64 field holds the sizes whose 32-bit fields are all ones, uncompressed first.
      let k = i + 4;
      if (size === UNKNOWN_32 && k + 8 <= i + 4 + length) { size = u64(extra, k); k += 8; }
      if (compressedSize === UNKNOWN_32 && k + 8 <= i + 4 + length) compressedSize = u64(extra, k);
    }
    i += 4 + length;
  }
  return { name, flags, method: u16(head, 8), crc: u32(head, 14), compressedSize, size, zip64 };
}

/** Passes over an entry not wanted whose compressed size the header states. */
async function skip(bytes: ByteQueue, entry: LocalEntry): Promise<void> {
  for (let left = entry.compressedSize; left > 0;) {
    const piece = await bytes.next(left);
    if (piece === null) throw truncated(entry);
    left -= piece.length;
  }
}

async function* stored(bytes: ByteQueue, entry: LocalEntry): AsyncGenerator<Uint8Array> {
  for (let left = entry.compressedSize; left > 0;) {
    const piece = await bytes.next(Math.min(left, PIECE));
    if (piece === null) throw truncated(entry);
    left -= piece.length;
    yield piece;
  }
}

/**
 * An entry's deflate data inflated as it arrives. Its end is where the deflate stream ends: zlib
 * stops consuming input there, and what it did not consume (the data descriptor, the next header)
 * is put back. With a stated compressed size, the stream must end exactly there.
 */
async function* inflated(bytes: ByteQueue, entry: LocalEntry, sizeKnown: boolean): AsyncGenerator<Uint8Array> {
  const inflate = createInflateRaw({ chunkSize: PIECE });
  const out: Buffer[] = [];
  inflate.on('data', (chunk: Buffer) => out.push(chunk));
  let failure: Error | null = null;
  const failed = new Promise<never>((_, reject) => inflate.once('error', (err: Error) => reject((failure = corrupt(entry, err)))));
  failed.catch(() => undefined);
  const ended = new Promise<void>((resolve) => inflate.once('end', resolve));
  const step = (write: (done: (err?: Error | null) => void) => void) => Promise.race([
    new Promise<void>((resolve, reject) => write((err) => (err ? reject(failure ?? corrupt(entry, err)) : resolve()))),
    failed,
  ]);
  try {
    let fed = 0;
    for (;;) {
      const left = sizeKnown ? entry.compressedSize - fed : PIECE;
      if (left === 0) {
        // Every stated byte is in: the stream must be complete (Z_FINISH), or the entry is corrupt.
        await step((done) => inflate.end(done));
        await Promise.race([ended, failed]);
        break;
      }
      const piece = await bytes.next(Math.min(left, PIECE));
      if (piece === null) throw truncated(entry);
      fed += piece.length;
      await step((done) => inflate.write(piece, done));
      if (failure) throw failure;
      const unused = fed - inflate.bytesWritten;
      if (unused > 0) {
        if (sizeKnown) throw new Error(`zip entry "${entry.name}": its deflate data ends ${unused} bytes before its stated size: the zip is corrupt`);
        bytes.unshift(piece.subarray(piece.length - unused));
        await Promise.race([ended, failed]);
        break;
      }
      while (out.length > 0) yield out.shift()!;
    }
    while (out.length > 0) yield out.shift()!;
  } finally {
    inflate.close();
  }
}

/** Reads the CRC-32 and sizes that follow an entry's data (flag bit 3), with or without their signature. */
async function dataDescriptor(bytes: ByteQueue, entry: LocalEntry): Promise<void> {
  const sizes = entry.zip64 ? 16 : 8;
  if (!(await bytes.want(4 + sizes))) throw truncated(entry);
  if (u32(bytes.peek(4), 0) === DATA_DESCRIPTOR) bytes.take(4);
  if (!(await bytes.want(4 + sizes))) throw truncated(entry);
  const d = bytes.take(4 + sizes);
  entry.crc = u32(d, 0);
  entry.compressedSize = entry.zip64 ? u64(d, 4) : u32(d, 4);
  entry.size = entry.zip64 ? u64(d, 12) : u32(d, 8);
}

function truncated(entry: LocalEntry): Error {
  return new Error(`the zip ends inside entry "${entry.name}" (truncated)`);
}

function corrupt(entry: LocalEntry, err: Error): Error {
  return new Error(`zip entry "${entry.name}" has bad deflate data (${err.message}): the zip is corrupt`);
}

function u16(b: Uint8Array, i: number): number {
  return b[i]! | (b[i + 1]! << 8);
}

function u32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

function u64(b: Uint8Array, i: number): number {
  return u32(b, i) + u32(b, i + 4) * 2 ** 32;
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
