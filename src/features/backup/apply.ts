import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { ArtifactEntry } from '../../shared/contracts/backup.ts';
import { waitReady } from '../rollback/health.ts';
import { pgUser, type DbComponent, type VolumeComponent } from './discover.ts';
import { clearVolume, putVolumeTar, volumeTar, withVolumeHelper } from './helper.ts';
import { describePersistence, redisPersistence, restoreTar } from './redis-files.ts';
import { mariadbCounts, mariadbExec, mariadbRestore } from './mariadb-source.ts';
import { pgCounts, pgExec, pgRestore } from './postgres-source.ts';
import { redisKeys, redisPing } from './redis-source.ts';
import { TarHasher } from './tar-hash.ts';

export const NEW = '__cdbnew';
export const OLD = '__cdbold';
const ADMIN_DB = 'template1';

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;

async function pg(docker: Docker, d: DbComponent, sql: string | readonly string[], what: string): Promise<string> {
  return pgExec(docker, d.containerId, pgUser(d), ADMIN_DB, sql, what);
}

async function exists(docker: Docker, d: DbComponent, db: string): Promise<boolean> {
  return (await pg(docker, d, `select 1 from pg_database where datname = ${lit(db)}`, 'look up a database')).trim() === '1';
}

/** Differences between expected and actual counts, as short text; empty when equal. */
export function countDiff(expected: Readonly<Record<string, number>> | undefined, actual: Readonly<Record<string, number>>): string {
  if (!expected) return '';
  const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  const bad = keys.filter((k) => (expected[k] ?? 0) !== (actual[k] ?? 0)).map((k) => `${k}: ${actual[k] ?? 0} (backup ${expected[k] ?? 0})`);
  return bad.slice(0, 5).join(', ') + (bad.length > 5 ? ` and ${bad.length - 5} more` : '');
}

/**
 * PostgreSQL, production: restore into a fresh `<db>__cdbnew` while the live database keeps
 * serving, check every table's row count there, then swap names (the old one becomes
 * `<db>__cdbold` and stays until the whole restore is healthy). The swap takes a moment; undoing
 * it is another rename. See runbooks/disaster-recovery.md for why not drop/create.
 */
export async function pgRestoreSide(docker: Docker, d: DbComponent, a: ArtifactEntry, open: () => Promise<Readable>, steps: Record<string, number> = {}): Promise<string> {
  const db = a.target;
  const fresh = `${db}${NEW}`;
  const like = (await pg(docker, d, `select pg_get_userbyid(datdba) || '|' || pg_encoding_to_char(encoding) || '|' || datcollate || '|' || datctype from pg_database where datname = ${lit(db)}`, 'read the database settings')).trim();
  const [owner, encoding, collate, ctype] = like ? like.split('|') : [pgUser(d)];
  const opts = encoding ? ` ENCODING ${lit(encoding)} LC_COLLATE ${lit(collate ?? '')} LC_CTYPE ${lit(ctype ?? '')}` : '';
  await pg(docker, d, [`DROP DATABASE IF EXISTS ${ident(fresh)}`, `CREATE DATABASE ${ident(fresh)} TEMPLATE template0 OWNER ${ident(owner ?? pgUser(d))}${opts}`], 'create the restore database');
  const t0 = Date.now();
  await pgRestore(docker, d.containerId, pgUser(d), fresh, await open());
  const t1 = Date.now();
  const counted = await pgCounts(docker, d.containerId, pgUser(d), fresh);
  steps.pg_restore = (steps.pg_restore ?? 0) + t1 - t0;
  steps.counts = (steps.counts ?? 0) + Date.now() - t1;
  const diff = countDiff(a.counts, counted);
  if (diff) throw new Error(`row counts of ${db} differ after pg_restore: ${diff}`);
  return `${Object.keys(a.counts ?? {}).length} tables, row counts match`;
}

/** Puts `<db>__cdbnew` in place of `<db>`; the replaced one is kept as `<db>__cdbold`. */
export async function pgSwapIn(docker: Docker, d: DbComponent, db: string): Promise<void> {
  const had = await exists(docker, d, db);
  const old = `${db}${OLD}`;
  const sql = [
    had ? `ALTER DATABASE ${ident(db)} WITH ALLOW_CONNECTIONS false` : '',
    had ? `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = ${lit(db)} AND pid <> pg_backend_pid()` : '',
    `DROP DATABASE IF EXISTS ${ident(old)}`,
    had ? `ALTER DATABASE ${ident(db)} RENAME TO ${ident(old)}` : '',
    `ALTER DATABASE ${ident(`${db}${NEW}`)} RENAME TO ${ident(db)}`,
  ].filter(Boolean);
  await pg(docker, d, sql, 'swap the restored database in');
}

/** Undo for one database, whatever point a restore reached: the database that was there before is back. */
export async function pgSwapBack(docker: Docker, d: DbComponent, db: string): Promise<'restored-old' | 'kept'> {
  const old = `${db}${OLD}`;
  await pg(docker, d, `DROP DATABASE IF EXISTS ${ident(`${db}${NEW}`)} WITH (FORCE)`, 'drop the restore database');
  if (!(await exists(docker, d, old))) {
    // Killed between closing the database and renaming it: it is still the old one, only closed.
    if (await exists(docker, d, db)) await pg(docker, d, `ALTER DATABASE ${ident(db)} WITH ALLOW_CONNECTIONS true`, 'allow connections again');
    return 'kept';
  }
  if (await exists(docker, d, db)) {
    await pg(docker, d, `DROP DATABASE ${ident(db)} WITH (FORCE)`, 'drop the half-restored database');
  }
  await pg(docker, d, [`ALTER DATABASE ${ident(old)} RENAME TO ${ident(db)}`, `ALTER DATABASE ${ident(db)} WITH ALLOW_CONNECTIONS true`], 'put the previous database back');
  return 'restored-old';
}

export async function pgDropOld(docker: Docker, d: DbComponent, db: string): Promise<void> {
  await pg(docker, d, `DROP DATABASE IF EXISTS ${ident(`${db}${OLD}`)} WITH (FORCE)`, 'drop the replaced database');
}

/** MariaDB has no RENAME DATABASE: drop, create and load the dump (the safety backup is the undo). */
export async function mariadbReplace(docker: Docker, d: DbComponent, a: ArtifactEntry, open: () => Promise<Readable>): Promise<string> {
  const q = (s: string) => `\`${s.replace(/`/g, '``')}\``;
  await mariadbExec(docker, d.containerId, `DROP DATABASE IF EXISTS ${q(a.target)}; CREATE DATABASE ${q(a.target)}`, 'recreate the database');
  await mariadbRestore(docker, d.containerId, a.target, await open());
  return mariadbVerify(docker, d.containerId, a);
}

/** Rows per table after a MariaDB load against the manifest's; throws when they differ. */
export async function mariadbVerify(docker: Docker, containerId: string, a: ArtifactEntry): Promise<string> {
  if (!a.counts) return 'loaded (row counts were not exact at backup time: rows were written during the dump)';
  const diff = countDiff(a.counts, await mariadbCounts(docker, containerId, a.target));
  if (diff) throw new Error(`row counts of ${a.target} differ after the load: ${diff}`);
  return `${Object.keys(a.counts).length} tables, row counts match`;
}

export async function stopContainer(docker: Docker, id: string): Promise<void> {
  await docker.getContainer(id).stop({ t: 10 }).catch((err: { statusCode?: number }) => {
    if (err.statusCode !== 304 && err.statusCode !== 404) throw err;
  });
}

export async function startContainer(docker: Docker, id: string): Promise<void> {
  await docker.getContainer(id).start().catch((err: { statusCode?: number }) => {
    if (err.statusCode !== 304) throw err;
  });
}

/**
 * Redis: its persistence settings are read from the running server, then with the server stopped
 * the RDB (and, with AOF on, the append-only files made from it: see redis-files.ts) goes into its
 * data directory, and the server starts and loads it.
 */
export async function redisReplace(docker: Docker, d: DbComponent, a: ArtifactEntry, open: () => Promise<Readable>, healthMs: number): Promise<string> {
  const ping = async () => {
    for (let i = 0; !(await redisPing(docker, d.containerId)); i++) {
      if (i > healthMs / 250) throw new Error('Redis does not answer PING');
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  // A restore resumed after a crash may find it stopped: it has to run to say where its files are.
  if (!(await docker.getContainer(d.containerId).inspect()).State.Running) {
    await startContainer(docker, d.containerId);
    await ping();
  }
  const p = await redisPersistence(docker, d.containerId);
  await stopContainer(docker, d.containerId);
  await docker.getContainer(d.containerId).putArchive(restoreTar(p, a, open) as unknown as NodeJS.ReadableStream, { path: p.dir });
  await startContainer(docker, d.containerId);
  const ready = await waitReady(docker, d.containerId, healthMs);
  if (!ready.ok) throw new Error(`Redis did not come back: ${ready.detail}`);
  await ping().catch(() => {
    throw new Error('Redis does not answer PING after the restore');
  });
  const diff = countDiff(a.counts, await redisKeys(docker, d.containerId));
  if (diff) throw new Error(`Redis keys differ after the restore: ${diff}`);
  return `${a.counts ? `keys match (${Object.entries(a.counts).map(([k, v]) => `${k}=${v}`).join(', ')})` : 'loaded (key counts were not exact at backup time)'}; ${describePersistence(p)}`;
}

/** Hashes every file of a volume (through a read-only helper) and compares with the manifest. */
export async function volumeDiff(docker: Docker, project: string, volume: string, image: string, expected: Readonly<Record<string, string>> | undefined): Promise<string> {
  if (!expected) return '';
  const hasher = new TarHasher(1);
  await withVolumeHelper(docker, { volume, image, project, readOnly: true }, async (h) => {
    const tar = await volumeTar(h);
    await new Promise<void>((resolve, reject) => {
      tar.pipe(hasher).on('data', () => undefined).on('end', resolve).on('error', reject);
      tar.on('error', reject);
    });
  });
  const got = hasher.sorted();
  const keys = [...new Set([...Object.keys(expected), ...Object.keys(got)])].sort();
  const bad = keys.filter((k) => expected[k] !== got[k]);
  return bad.length ? `${bad.length} files differ (${bad.slice(0, 3).join(', ')})` : '';
}

/** Volumes: emptied and refilled from the tar, with its users stopped; then every file's hash is checked. */
export async function volumeReplace(docker: Docker, project: string, v: VolumeComponent, a: ArtifactEntry, image: string, open: () => Promise<Readable>): Promise<string> {
  await clearVolume(docker, { volume: v.volume, image, project });
  await putVolumeTar(docker, { volume: v.volume, image, project }, await open());
  const diff = await volumeDiff(docker, project, v.volume, image, a.files);
  if (diff) throw new Error(`volume ${v.volume}: ${diff} after the restore`);
  return `${Object.keys(a.files ?? {}).length} files, hashes match`;
}

