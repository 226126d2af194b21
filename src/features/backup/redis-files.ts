import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { ArtifactEntry } from '../../shared/contracts/backup.ts';
import { REDIS_AUTH } from './discover.ts';
import { execText } from './engine-exec.ts';
import { tarFiles, type TarEntry } from './helper.ts';

/**
 * Where a Redis server keeps its data, read from the server itself. With `appendonly yes` Redis
 * loads the append-only file at start and ignores dump.rdb entirely (an empty AOF means an empty
 * server): replacing only the RDB would restore nothing. See restoreTar.
 */
export interface RedisPersistence {
  readonly dir: string;
  readonly dbfilename: string;
  readonly aof: boolean;
  /** `appendfilename` (the AOF's base name). */
  readonly aofName: string;
  /** Redis 7+: the multi-part AOF directory (`appenddirname`); absent before 7. */
  readonly aofDir?: string;
  readonly aofDirExists: boolean;
  /** Files in the AOF directory now: each is emptied, so none of their commands can replay over the restored data. */
  readonly aofFiles: readonly string[];
  readonly major: number;
  /** Owner of the data directory: the files written get it, so the server can rewrite and append to them. */
  readonly uid: number;
  readonly gid: number;
}

const SCRIPT = `${REDIS_AUTH}set -e
r() { redis-cli --no-auth-warning "$@" | tr -d '\\r'; }
g() { r CONFIG GET "$1" | sed -n 2p; }
dir=$(g dir); ad=$(g appenddirname)
echo "dir|$dir"; echo "dbfilename|$(g dbfilename)"; echo "appendonly|$(g appendonly)"; echo "appendfilename|$(g appendfilename)"; echo "appenddirname|$ad"
echo "version|$(r INFO server | sed -n 's/^redis_version://p')"
echo "owner|$(stat -c %u:%g "$dir")"
if [ -n "$ad" ] && [ -d "$dir/$ad" ]; then echo "aofdir|yes"; for f in "$dir/$ad"/*; do [ -f "$f" ] && echo "aoffile|$(basename "$f")"; done; fi
true`;

const SAFE = /^[A-Za-z0-9._-]{1,90}$/;

/** Reads the server's persistence settings (it must be running). */
export async function redisPersistence(docker: Docker, containerId: string): Promise<RedisPersistence> {
  const out = await execText(docker, containerId, ['sh', '-c', SCRIPT], { what: 'read the Redis persistence settings' });
  const lines = out.split('\n').map((l) => [l.slice(0, l.indexOf('|')), l.slice(l.indexOf('|') + 1).trim()] as const).filter(([k]) => k);
  const get = (k: string) => lines.find(([key]) => key === k)?.[1] ?? '';
  const [uid, gid] = get('owner').split(':').map(Number);
  const aofDir = get('appenddirname') || undefined;
  const p: RedisPersistence = {
    dir: get('dir'), dbfilename: get('dbfilename') || 'dump.rdb', aof: get('appendonly') === 'yes', aofName: get('appendfilename') || 'appendonly.aof',
    ...(aofDir ? { aofDir } : {}), aofDirExists: get('aofdir') === 'yes', aofFiles: lines.filter(([k]) => k === 'aoffile').map(([, v]) => v).filter((v) => SAFE.test(v)),
    major: Number(get('version').split('.')[0]) || 0, uid: Number.isInteger(uid) ? (uid as number) : 0, gid: Number.isInteger(gid) ? (gid as number) : 0,
  };
  for (const name of [p.dbfilename, p.aofName, p.aofDir ?? 'x']) if (!SAFE.test(name)) throw new Error(`Redis file name ${JSON.stringify(name).slice(0, 60)} is not one a restore can write`);
  if (!p.dir.startsWith('/')) throw new Error('Redis did not say where its data directory is');
  return p;
}

/**
 * The files that make a stopped Redis start with exactly the backup's data, extracted into its
 * data directory:
 * - always the RDB (`dbfilename`);
 * - `appendonly yes`, Redis 7+ (multi-part AOF): the RDB again as the AOF's base file
 *   (`<appendfilename>.1.base.rdb`: Redis's own base files are RDBs, aof-use-rdb-preamble), an empty
 *   increment file and a manifest naming the two, which is what Redis itself writes after an AOF
 *   rewrite; every other file already in the AOF directory is emptied so that nothing replays;
 * - `appendonly yes`, before 7: the RDB as `appendonlyfile` (an AOF with an RDB preamble and no tail).
 * Files are owned like the data directory, so the server can append and rewrite them.
 */
export function restoreTar(p: RedisPersistence, a: Pick<ArtifactEntry, 'rawBytes'>, open: () => Promise<Readable>): Readable {
  const own = { uid: p.uid, gid: p.gid };
  const rdb = (name: string): TarEntry => ({ name, type: 'file', size: a.rawBytes, mode: 0o644, ...own, body: async () => (await open()) as AsyncIterable<Buffer> });
  const text = (name: string, content: string): TarEntry => {
    const body = Buffer.from(content);
    return { name, type: 'file', size: body.length, mode: 0o644, ...own, body: async () => [body] };
  };
  const entries: TarEntry[] = [rdb(p.dbfilename)];
  if (p.aof && p.major >= 7 && p.aofDir) {
    const base = `${p.aofName}.1.base.rdb`;
    const incr = `${p.aofName}.1.incr.aof`;
    const manifest = `${p.aofName}.manifest`;
    if (!p.aofDirExists) entries.push({ name: p.aofDir, type: 'dir', size: 0, mode: 0o755, ...own });
    entries.push(rdb(`${p.aofDir}/${base}`), text(`${p.aofDir}/${incr}`, ''));
    for (const f of p.aofFiles) if (![base, incr, manifest].includes(f)) entries.push(text(`${p.aofDir}/${f}`, ''));
    // Last: until the manifest is replaced, the server (stopped) would still read the old one.
    entries.push(text(`${p.aofDir}/${manifest}`, `file ${base} seq 1 type b\nfile ${incr} seq 1 type i\n`));
  } else if (p.aof) {
    entries.push(rdb(p.aofName));
  }
  return Readable.from(tarFiles(entries));
}

export function describePersistence(p: RedisPersistence): string {
  return p.aof ? `AOF on: the RDB also became the append-only file's base${p.major >= 7 ? '' : ' (RDB preamble)'}` : 'RDB';
}
