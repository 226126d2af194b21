import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

const BLOCK = 512;

function field(header: Buffer, start: number, len: number): string {
  const raw = header.subarray(start, start + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

function octal(header: Buffer, start: number, len: number): number {
  const raw = header.subarray(start, start + len);
  // GNU base-256 for sizes over 8 GiB.
  if ((raw[0] ?? 0) & 0x80) return Number(raw.subarray(1).reduce((n, b) => n * 256n + BigInt(b), 0n));
  const text = field(header, start, len).trim();
  return text ? parseInt(text, 8) : 0;
}

function paxPath(data: Buffer): string | undefined {
  for (const rec of data.toString('utf8').split('\n')) {
    const m = /^\d+ path=(.*)$/s.exec(rec);
    if (m) return m[1];
  }
  return undefined;
}

/** Normalises `v/a/b`, `./a/b` and `a/b` to `a/b`, relative to the archive's top directory. */
function relative(name: string, strip: number): string {
  return name.replace(/^\.\//, '').split('/').slice(strip).join('/');
}

/**
 * Passes a tar stream through unchanged and records the sha256 of every regular file in it, by
 * path: the volume's "file hashes" in the manifest, compared again by the drill. Holds at most one
 * header at a time, so memory stays flat whatever the volume's size. Understands ustar, GNU long
 * names and PAX path records (what the Engine's archive endpoint produces).
 */
export class TarHasher extends Transform {
  readonly files = new Map<string, string>();
  private buf: Buffer = Buffer.alloc(0);
  private left = 0;
  private pad = 0;
  private hash: Hash | undefined;
  private current = '';
  private meta: Buffer[] | undefined;
  private metaKind: 'L' | 'x' | undefined;
  private nextName: string | undefined;

  /** `strip`: leading path components to drop (1 for the Engine's `<dir>/…` entries). */
  constructor(private readonly strip = 1) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.push(chunk);
    try {
      this.consume(chunk);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private consume(chunk: Buffer): void {
    let data = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    this.buf = Buffer.alloc(0);
    while (data.length) {
      if (this.left > 0) {
        const n = Math.min(this.left, data.length);
        const part = data.subarray(0, n);
        if (this.hash) this.hash.update(part);
        else if (this.meta) this.meta.push(Buffer.from(part));
        this.left -= n;
        data = data.subarray(n);
        if (this.left === 0) this.finishEntry();
        continue;
      }
      if (this.pad > 0) {
        const n = Math.min(this.pad, data.length);
        this.pad -= n;
        data = data.subarray(n);
        continue;
      }
      if (data.length < BLOCK) {
        this.buf = Buffer.from(data);
        return;
      }
      const header = data.subarray(0, BLOCK);
      data = data.subarray(BLOCK);
      if (header.every((b) => b === 0)) continue; // end-of-archive blocks
      const size = octal(header, 124, 12);
      const type = String.fromCharCode(header[156] ?? 48);
      const prefix = field(header, 345, 155);
      const name = this.nextName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
      this.left = size;
      this.pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (type === 'L' || type === 'x') {
        this.meta = [];
        this.metaKind = type;
      } else {
        this.nextName = undefined;
        if (type === '0' || type === '\0' || type === '7') {
          this.hash = createHash('sha256');
          this.current = relative(name, this.strip);
        }
      }
      if (size === 0) this.finishEntry();
    }
  }

  private finishEntry(): void {
    if (this.hash) {
      if (this.current) this.files.set(this.current, this.hash.digest('hex'));
      this.hash = undefined;
    } else if (this.meta) {
      const data = Buffer.concat(this.meta);
      this.nextName = this.metaKind === 'L' ? data.toString('utf8').replace(/\0+$/, '') : (paxPath(data) ?? this.nextName);
      this.meta = undefined;
      this.metaKind = undefined;
    }
  }

  /** The files as a sorted plain object, for the manifest. */
  sorted(): Record<string, string> {
    return Object.fromEntries([...this.files.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }
}
