import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable, Transform, Writable, pipeline as chainStreams, type TransformCallback } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { Decrypter } from 'age-encryption';
import type { ArtifactEntry } from '../../shared/contracts/backup.ts';
import { OpsError } from '../../shared/errors.ts';
import { encrypterFor } from './age-keys.ts';

/** Counts and hashes what flows through, unchanged. */
export class Meter extends Transform {
  bytes = 0;
  private readonly h = createHash('sha256');
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.h.update(chunk);
    done(null, chunk);
  }
  digest(): string {
    return this.h.digest('hex');
  }
}

// Node 20's zlib has no zstd (it arrived in Node 22.15/23.8): gzip it is, level 6 (zlib's default),
// for what the tools write uncompressed (SQL dumps, RDB files, tars). PostgreSQL's custom-format
// dump is compressed by pg_dump itself and stored as it comes (compression 'pg_dump'): a restore
// then sends only compressed bytes through the Engine API and pg_restore decompresses them.
export const GZIP_LEVEL = 6;
export type Compression = ArtifactEntry['compression'];

export interface WrittenArtifact {
  readonly bytes: number;
  readonly sha256: string;
  readonly plainSha256: string;
  readonly rawBytes: number;
}

/** Chains streams with errors propagated to every one of them; returns the last (readable) one. */
function chain(streams: Array<NodeJS.ReadableStream | NodeJS.ReadWriteStream>, onError: (err: Error) => void = () => undefined): Readable {
  return chainStreams(streams as [NodeJS.ReadableStream, ...NodeJS.ReadWriteStream[]], (err) => {
    if (err) onError(err);
  }) as unknown as Readable;
}

const toWeb = (r: Readable): ReadableStream<Uint8Array> => Readable.toWeb(r) as unknown as ReadableStream<Uint8Array>;
const fromWeb = (w: ReadableStream<Uint8Array>): Readable => Readable.fromWeb(w as unknown as WebReadableStream<Uint8Array>);

/**
 * source → gzip (unless the source compressed it already) → sha256 → (age) → sha256 → file (0600,
 * created exclusively). Every stage is a
 * stream with a bounded buffer, so a slow disk slows the database's output instead of filling
 * memory. age encrypts in its own STREAM format (64 KiB chunks, each authenticated): the files
 * are ordinary `.age` files that `age -d -i key` decrypts.
 */
export async function writeArtifact(source: Readable, path: string, opts: { recipient?: string; signal?: AbortSignal; extra?: Transform[]; compression?: Compression }): Promise<WrittenArtifact> {
  const raw = new Meter();
  const plain = new Meter();
  const stored = new Meter();
  const file = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  const compress = (opts.compression ?? 'gzip') === 'gzip' ? [createGzip({ level: GZIP_LEVEL })] : [];
  const stages: Array<NodeJS.ReadableStream | NodeJS.ReadWriteStream> = [source, raw, ...(opts.extra ?? []), ...compress, plain];
  if (opts.recipient) {
    let failed: Error | undefined;
    const compressed = chain(stages, (err) => (failed = err));
    const encrypted = await encrypterFor(opts.recipient).encrypt(toWeb(compressed));
    await pipeline(fromWeb(encrypted), stored, file, { signal: opts.signal });
    if (failed) throw failed;
  } else {
    await pipeline([...stages, stored, file] as unknown as [Readable, Transform, NodeJS.WritableStream], { signal: opts.signal });
  }
  return { bytes: stored.bytes, sha256: stored.digest(), plainSha256: plain.digest(), rawBytes: raw.bytes };
}

/** Reads a stored file and compares size and sha256 with the manifest; names the file when they differ. */
export async function checkStored(path: string, entry: Pick<ArtifactEntry, 'file' | 'bytes' | 'sha256'>, backup: string): Promise<void> {
  const m = new Meter();
  try {
    await pipeline(createReadStream(path), m, new Writable({ write: (_c, _e, cb) => cb() }));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new OpsError('BACKUP_INVALID', `Backup ${backup}: artifact \`${entry.file}\` cannot be read (${code}). Nothing was touched.`);
  }
  const sha = m.digest();
  if (m.bytes !== entry.bytes || sha !== entry.sha256) {
    throw new OpsError('BACKUP_INVALID', `Backup ${backup}: artifact \`${entry.file}\` is corrupted (${m.bytes} bytes, sha256 ${sha.slice(0, 12)}…; the manifest says ${entry.bytes} bytes, ${entry.sha256.slice(0, 12)}…). Nothing was touched.`);
  }
}

/** Decrypt test: the key opens the file's header and its first chunk (the sha256 covers the rest). */
export async function decryptTest(path: string, entry: Pick<ArtifactEntry, 'file'>, decrypter: Decrypter, backup: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const stream = fromWeb(await decrypter.decrypt(toWeb(fh.createReadStream({ start: 0, end: 256 * 1024, autoClose: false }))));
    // The slice ends mid-file, so the final-chunk check may fail: reaching the first plaintext is the test.
    await new Promise<void>((resolve, reject) => {
      stream.once('data', () => resolve());
      stream.once('end', () => resolve());
      stream.once('error', reject);
    });
    stream.destroy();
  } catch (err) {
    throw new OpsError('BACKUP_INVALID', `Backup ${backup}: artifact \`${entry.file}\` does not decrypt with the configured key (${(err as Error).message.slice(0, 120)}). Nothing was touched.`);
  } finally {
    await fh.close();
  }
}

/**
 * The artifact's original bytes as a stream: file → (age) → gunzip (gzip artifacts; a 'pg_dump'
 * one goes to pg_restore as stored), with the stored and compressed sha256 checked as it flows.
 * A mismatch fails the stream at its end.
 */
export async function openArtifact(path: string, entry: ArtifactEntry, decrypter: Decrypter | undefined): Promise<Readable> {
  const stored = new Meter();
  const plain = new Meter();
  const check = (m: Meter, expected: string, what: string) =>
    new Transform({
      transform: (c: Buffer, _e, cb) => cb(null, c),
      flush(cb) {
        const got = m.digest();
        cb(got === expected ? null : new OpsError('BACKUP_INVALID', `Artifact \`${entry.file}\`: ${what} sha256 ${got.slice(0, 12)}… differs from the manifest.`));
      },
    });
  let compressed: Readable = chain([createReadStream(path), stored, check(stored, entry.sha256, 'stored')]);
  if (entry.encrypted) {
    if (!decrypter) throw new OpsError('BACKUP_KEY_MISSING', `Artifact \`${entry.file}\` is encrypted and no key was given.`);
    compressed = fromWeb(await decrypter.decrypt(toWeb(compressed)));
  }
  const stages = [compressed, plain, check(plain, entry.plainSha256, 'compressed')];
  return chain(entry.compression === 'gzip' ? [...stages, createGunzip()] : stages);
}
