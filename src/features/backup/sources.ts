import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { execStream, execText } from './engine-exec.ts';
import { MY_AUTH, PG_AUTH, REDIS_AUTH, pgUser, type DbComponent } from './discover.ts';

/** A dump in progress: its bytes, and what the database said about it once it ended. */
export interface DumpStream {
  readonly stdout: Readable;
  finish(): Promise<{ counts?: Record<string, number>; serverVersion?: string; redisDir?: string; redisFile?: string }>;
}

const COUNT_SQL = `SELECT format('%s.%s', n.nspname, c.relname) || '|' || (xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I.%I', n.nspname, c.relname), false, true, '')))[1]::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1;`;

/**
 * One psql session exports a REPEATABLE READ snapshot and counts every table's rows in it while
 * pg_dump dumps that same snapshot, side by side: the manifest's counts are exactly the dump's,
 * even while the application writes, and counting adds no time when a core is free. The session
 * keeps its transaction open until pg_dump is done (or the script is gone, so an aborted backup
 * leaves no open snapshot behind). Counts go to stderr (prefixed), the dump alone to stdout.
 * pg_dump compresses (custom format, its default level), so only compressed bytes cross the
 * Engine API, at backup and at restore. The counting session runs at the lowest CPU priority
 * (renice 19, as the backend's own user: setpriv where the exec runs as another one), without
 * parallel workers or JIT: counting is the backup's own check, and on a small host it took the
 * cores that pg_dump's COPY and the application needed (BENCHMARKS.md). Without renice or setpriv
 * in the image it still counts, at normal priority.
 */
const PG_DUMP_SCRIPT = `${PG_AUTH}export PGDATABASE="$2"
CDB_T=$(mktemp -d) || exit 1; export CDB_T; CDB_PARENT=$$; export CDB_PARENT
trap 'rm -rf "$CDB_T"' EXIT
CDB_NICE='u=$(stat -c %u "/proc/$1") || exit 0; if [ "$(id -u)" = "$u" ]; then exec renice -n 19 -p "$1"; fi; exec setpriv --reuid="$u" --regid="$(stat -c %g "/proc/$1")" --clear-groups renice -n 19 -p "$1"'; export CDB_NICE
psql -X -q -At -v ON_ERROR_STOP=1 >/dev/null <<'SQL' &
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SET LOCAL jit = off;
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT pg_export_snapshot() AS cdb_snap \\gset
\\setenv CDB_SNAP :cdb_snap
\\! echo "$CDB_SNAP" > "$CDB_T/snap.tmp" && mv "$CDB_T/snap.tmp" "$CDB_T/snap"
SELECT pg_backend_pid() AS cdb_pid \\gset
\\setenv CDB_PID :cdb_pid
\\! sh -c "$CDB_NICE" sh "$CDB_PID" >/dev/null 2>&1 || true
\\o | sed 's/^/cdbcount|/' >&2
SELECT 'version|' || current_setting('server_version');
${COUNT_SQL}
\\o
\\! while [ ! -e "$CDB_T/dumped" ] && kill -0 "$CDB_PARENT" 2>/dev/null; do sleep 0.05; done
COMMIT;
SQL
p=$!
while [ ! -e "$CDB_T/snap" ]; do kill -0 "$p" 2>/dev/null || { wait "$p"; echo "cdbexit|psql $?" >&2; exit 1; }; sleep 0.05; done
pg_dump -Fc --snapshot="$(cat "$CDB_T/snap")"; e=$?
touch "$CDB_T/dumped"
wait "$p"; pe=$?
echo "cdbexit|$e" >&2
[ "$pe" -eq 0 ] || { echo "cdbpsql|$pe" >&2; exit 1; }`;

function parseMarked(stderr: string, mark: string): Array<[string, string]> {
  return stderr.split('\n').filter((l) => l.startsWith(`${mark}|`)).map((l) => {
    const rest = l.slice(mark.length + 1);
    const bar = rest.lastIndexOf('|');
    return [rest.slice(0, bar), rest.slice(bar + 1)];
  });
}

export async function pgDump(docker: Docker, d: DbComponent, db: string): Promise<DumpStream> {
  const h = await execStream(docker, d.containerId, ['sh', '-c', PG_DUMP_SCRIPT, 'sh', pgUser(d), db]);
  return {
    stdout: h.stdout,
    async finish() {
      const { exitCode, stderr } = await h.done;
      const exit = /cdbexit\|(\d+)/.exec(stderr)?.[1];
      if (exitCode !== 0 || exit !== '0') throw new Error(`pg_dump of ${db} failed (exit ${exit ?? exitCode}): ${stderr.replace(/^cdbcount\|.*$/gm, '').trim().slice(-400)}`);
      const marked = parseMarked(stderr, 'cdbcount');
      const counts: Record<string, number> = {};
      let serverVersion: string | undefined;
      for (const [k, v] of marked) {
        if (k === 'version') serverVersion = v;
        else counts[k] = Number(v);
      }
      return { counts, serverVersion };
    },
  };
}

/** Rows per table of a database, as the backup counted them. */
export async function pgCounts(docker: Docker, containerId: string, user: string, db: string): Promise<Record<string, number>> {
  const out = await execText(docker, containerId, ['sh', '-c', `${PG_AUTH}psql -X -At -v ON_ERROR_STOP=1 -d "$2" -c "$3"`, 'sh', user, db, COUNT_SQL], { what: `count rows in ${db}` });
  return Object.fromEntries(out.split('\n').filter(Boolean).map((l) => {
    const bar = l.lastIndexOf('|');
    return [l.slice(0, bar), Number(l.slice(bar + 1))];
  }));
}

/**
 * Runs SQL statements as the container's database superuser, each in its own `-c` (so DROP and
 * CREATE DATABASE may follow each other), stopping at the first error: one exec, not one per statement.
 */
export async function pgExec(docker: Docker, containerId: string, user: string, db: string, sql: string | readonly string[], what: string): Promise<string> {
  const statements = typeof sql === 'string' ? [sql] : sql;
  const flags = statements.map((_, i) => `-c "$${i + 3}"`).join(' ');
  return execText(docker, containerId, ['sh', '-c', `${PG_AUTH}psql -X -At -v ON_ERROR_STOP=1 -d "$2" ${flags}`, 'sh', user, db, ...statements], { what });
}

/**
 * pg_restore of a custom-format dump read from stdin into an existing database. Its session
 * commits without waiting for the WAL flush (synchronous_commit=off): the database being filled
 * is not in use until the swap, a crash mid-restore means restoring again anyway, and the WAL
 * writer has flushed it long before the row counts and the swap that follow.
 */
export async function pgRestore(docker: Docker, containerId: string, user: string, db: string, dump: Readable, opts: { noOwner?: boolean } = {}): Promise<void> {
  const flags = ['--exit-on-error', ...(opts.noOwner ? ['--no-owner', '--no-acl'] : [])].join(' ');
  const h = await execStream(docker, containerId, ['sh', '-c', `${PG_AUTH}PGOPTIONS='-c synchronous_commit=off' exec pg_restore ${flags} -d "$2"`, 'sh', user, db], { stdin: dump });
  h.stdout.resume();
  const { exitCode, stderr } = await h.done;
  if (exitCode !== 0) throw new Error(`pg_restore into ${db} failed (exit ${exitCode}): ${stderr.trim().slice(-400)}`);
}

/**
 * A consistent Redis snapshot without stopping it: BGSAVE (scheduled if one is running), wait for
 * a new save to complete, then stream the RDB file (a later save replaces it by rename, so the file
 * being read stays whole). Keys per database are taken before and after; equal means exact.
 */
const REDIS_SCRIPT = `${REDIS_AUTH}set -e
r() { redis-cli --no-auth-warning "$@"; }
info() { r INFO "$1" | tr -d '\\r'; }
saves() { info persistence | sed -n 's/^rdb_saves://p'; }
last() { r LASTSAVE | tr -d '\\r'; }
echo "cdbkeys-before|$(info keyspace | grep '^db' | tr '\\n' ' ')" >&2
b=$(saves); l=$(last)
r BGSAVE SCHEDULE >/dev/null
i=0
while :; do
  p=$(info persistence)
  if echo "$p" | grep -q '^rdb_bgsave_in_progress:0'; then
    if [ -n "$b" ]; then [ "$(saves)" -gt "$b" ] && break; else [ "$(last)" != "$l" ] && break; fi
  fi
  i=$((i+1)); [ $i -gt 36000 ] && { echo "cdberr|BGSAVE did not finish" >&2; exit 3; }
  sleep 0.1
done
info persistence | grep -q '^rdb_last_bgsave_status:ok' || { echo "cdberr|BGSAVE failed" >&2; exit 4; }
echo "cdbkeys-after|$(info keyspace | grep '^db' | tr '\\n' ' ')" >&2
echo "cdbversion|$(info server | sed -n 's/^redis_version://p')" >&2
dir=$(r CONFIG GET dir | sed -n 2p | tr -d '\\r'); file=$(r CONFIG GET dbfilename | sed -n 2p | tr -d '\\r')
echo "cdbdir|$dir" >&2; echo "cdbfile|$file" >&2
exec cat "$dir/$file"`;

/** `db0:keys=3,expires=0,avg_ttl=0 db1:keys=1,…` → { db0: 3, db1: 1 }. */
export function parseKeyspace(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/(db\d+):keys=(\d+)/g)) out[m[1] as string] = Number(m[2]);
  return out;
}

export async function redisSnapshot(docker: Docker, d: DbComponent): Promise<DumpStream> {
  const h = await execStream(docker, d.containerId, ['sh', '-c', REDIS_SCRIPT]);
  return {
    stdout: h.stdout,
    async finish() {
      const { exitCode, stderr } = await h.done;
      const get = (k: string) => new RegExp(`^${k}\\|(.*)$`, 'm').exec(stderr)?.[1]?.trim();
      if (exitCode !== 0) throw new Error(`Redis snapshot failed (exit ${exitCode}): ${get('cdberr') ?? stderr.trim().slice(-300)}`);
      const before = parseKeyspace(get('cdbkeys-before') ?? '');
      const after = parseKeyspace(get('cdbkeys-after') ?? '');
      // Keys written during the save make the count approximate: then it is not recorded as exact.
      const exact = JSON.stringify(before) === JSON.stringify(after);
      return { counts: exact ? after : undefined, serverVersion: get('cdbversion'), redisDir: get('cdbdir'), redisFile: get('cdbfile') };
    },
  };
}

export async function redisKeys(docker: Docker, containerId: string): Promise<Record<string, number>> {
  return parseKeyspace(await execText(docker, containerId, ['sh', '-c', `${REDIS_AUTH}redis-cli --no-auth-warning INFO keyspace`], { what: 'count Redis keys' }));
}

export async function redisPing(docker: Docker, containerId: string): Promise<boolean> {
  try {
    const out = await execText(docker, containerId, ['sh', '-c', `${REDIS_AUTH}redis-cli --no-auth-warning PING`], { what: 'ping Redis' });
    return out.trim() === 'PONG';
  } catch {
    return false;
  }
}

export async function pgReady(docker: Docker, containerId: string, user: string): Promise<boolean> {
  try {
    await pgExec(docker, containerId, user, 'postgres', 'select 1', 'ask PostgreSQL');
    return true;
  } catch {
    return false;
  }
}

/**
 * Exact rows per table of the session's default database: one SELECT COUNT(*) per base table (not
 * information_schema's estimates), all in one consistent snapshot. Prints `table<TAB>rows` lines.
 */
export const MARIADB_COUNT_SQL = `SET SESSION group_concat_max_len = 16777216;
SET @b = CHAR(96 USING utf8mb4);
SET @q = (SELECT GROUP_CONCAT(CONCAT('SELECT ', QUOTE(table_name), ', COUNT(*) FROM ', @b, REPLACE(table_name, @b, CONCAT(@b, @b)), @b) ORDER BY table_name SEPARATOR ' UNION ALL ') FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE');
SET @q = COALESCE(@q, 'SELECT 1, 1 FROM DUAL WHERE FALSE');
START TRANSACTION WITH CONSISTENT SNAPSHOT;
PREPARE cdb_counts FROM @q; EXECUTE cdb_counts; DEALLOCATE PREPARE cdb_counts;
COMMIT;`;

function parseTabCounts(text: string): Record<string, number> {
  return Object.fromEntries(text.split('\n').filter((l) => l.includes('\t')).map((l) => {
    const tab = l.lastIndexOf('\t');
    return [l.slice(0, tab), Number(l.slice(tab + 1))];
  }));
}

/**
 * mariadb-dump --single-transaction: a consistent dump of one database, without CREATE DATABASE.
 * Its snapshot cannot be shared with another session, so the rows are counted just before and
 * just after it: equal counts are the dump's counts (recorded); different ones mean rows were
 * written meanwhile, and the manifest then holds no counts (said so at restore, as for Redis keys).
 */
export async function mariadbDump(docker: Docker, d: DbComponent, db: string): Promise<DumpStream> {
  const script = `${MY_AUTH}count() { "$CLIENT" -uroot -N -B "$1" -e "$2" | sed "s/^/cdbcount-$3|/" >&2; }
echo "cdbversion|$("$CLIENT" -uroot -N -B -e 'select version()')" >&2
count "$1" "$2" before
"$DUMP" -uroot --single-transaction --routines --triggers --events "$1" || { echo "cdbexit|$?" >&2; exit 1; }
count "$1" "$2" after`;
  const h = await execStream(docker, d.containerId, ['sh', '-c', script, 'sh', db, MARIADB_COUNT_SQL]);
  return {
    stdout: h.stdout,
    async finish() {
      const { exitCode, stderr } = await h.done;
      if (exitCode !== 0) throw new Error(`mariadb-dump of ${db} failed (exit ${exitCode}): ${stderr.replace(/^cdbcount-.*$/gm, '').trim().slice(-400)}`);
      const marked = (when: string) => parseTabCounts(stderr.split('\n').filter((l) => l.startsWith(`cdbcount-${when}|`)).map((l) => l.slice(`cdbcount-${when}|`.length)).join('\n'));
      const before = marked('before');
      const after = marked('after');
      const exact = JSON.stringify(before) === JSON.stringify(after);
      return { serverVersion: /^cdbversion\|(.*)$/m.exec(stderr)?.[1]?.trim(), ...(exact ? { counts: after } : {}) };
    },
  };
}

/** Rows per table of a MariaDB database, counted exactly (see MARIADB_COUNT_SQL). */
export async function mariadbCounts(docker: Docker, containerId: string, db: string): Promise<Record<string, number>> {
  return parseTabCounts(await execText(docker, containerId, ['sh', '-c', `${MY_AUTH}exec "$CLIENT" -uroot -N -B "$1" -e "$2"`, 'sh', db, MARIADB_COUNT_SQL], { what: `count rows in ${db}` }));
}

export async function mariadbRestore(docker: Docker, containerId: string, db: string, sql: Readable): Promise<void> {
  const h = await execStream(docker, containerId, ['sh', '-c', `${MY_AUTH}exec "$CLIENT" -uroot "$1"`, 'sh', db], { stdin: sql });
  h.stdout.resume();
  const { exitCode, stderr } = await h.done;
  if (exitCode !== 0) throw new Error(`restore into ${db} failed (exit ${exitCode}): ${stderr.trim().slice(-400)}`);
}

export async function mariadbExec(docker: Docker, containerId: string, sql: string, what: string): Promise<string> {
  return execText(docker, containerId, ['sh', '-c', `${MY_AUTH}exec "$CLIENT" -uroot -N -B -e "$1"`, 'sh', sql], { what });
}
