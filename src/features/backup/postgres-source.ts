import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { execStream, execText } from './engine-exec.ts';
import { PG_AUTH, pgUser, type DbComponent } from './discover.ts';
import { parseMarked, type DumpStream } from './dump-stream.ts';

const COUNT_SQL = `SELECT format('%s.%s', n.nspname, c.relname) || '|' || (xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I.%I', n.nspname, c.relname), false, true, '')))[1]::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1;`;

/**
 * One psql session exports a REPEATABLE READ snapshot and counts every table's rows in it while
 * pg_dump dumps that same snapshot, side by side: the manifest's counts are exactly the dump's,
 * even while the application writes. The script talks to that session through two FIFOs, so
 * nothing polls: it writes the SQL to psql's stdin and reads the snapshot id from psql's stdout;
 * after pg_dump it sends COMMIT. If psql dies, the script reads EOF instead of an id; if the script
 * dies, psql reads EOF, and its transaction (and snapshot) ends with it. If psql fails after
 * the id (a count it could not run), the script is not killed writing COMMIT to it (SIGPIPE is
 * ignored) and reports psql's status, which explains a pg_dump that lost its snapshot too. Counts
 * go to stderr (prefixed), the dump alone to stdout.
 *
 * pg_dump compresses (custom format, backup.pgCompressLevel), so only compressed bytes cross the
 * Engine API, at backup and at restore. The counting session runs at the lowest CPU priority
 * (renice 19, as the backend's own user: setpriv where the exec runs as another one), without
 * parallel workers or JIT: counting is the backup's own check, and on a small host it competes
 * for the cores that pg_dump's COPY and the application need (BENCHMARKS.md). Without renice or
 * setpriv in the image it still counts, at normal priority.
 */
const PG_DUMP_SCRIPT = `${PG_AUTH}export PGDATABASE="$2"
CDB_T=$(mktemp -d) || exit 1
trap 'rm -rf "$CDB_T"' EXIT
trap '' PIPE
mkfifo "$CDB_T/sql" "$CDB_T/out" || exit 1
CDB_NICE='u=$(stat -c %u "/proc/$1") || exit 0; if [ "$(id -u)" = "$u" ]; then exec renice -n 19 -p "$1"; fi; exec setpriv --reuid="$u" --regid="$(stat -c %g "/proc/$1")" --clear-groups renice -n 19 -p "$1"'; export CDB_NICE
psql -X -q -At -v ON_ERROR_STOP=1 <"$CDB_T/sql" >"$CDB_T/out" &
p=$!
exec 3>"$CDB_T/sql" 4<"$CDB_T/out"
cat >&3 <<'SQL'
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SET LOCAL jit = off;
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT pg_backend_pid() AS cdb_pid \\gset
\\setenv CDB_PID :cdb_pid
\\! sh -c "$CDB_NICE" sh "$CDB_PID" >/dev/null 2>&1 || true
SELECT pg_export_snapshot() AS cdb_snap \\gset
\\setenv CDB_SNAP :cdb_snap
\\! echo "$CDB_SNAP"
\\o | sed 's/^/cdbcount|/' >&2
SELECT 'version|' || current_setting('server_version');
${COUNT_SQL}
\\o
SQL
IFS= read -r snap <&4 || { exec 3>&-; wait "$p"; echo "cdbexit|psql exited $?" >&2; exit 1; }
pg_dump -Fc -Z "$3" --snapshot="$snap" 3>&- 4<&-; e=$?
echo 'COMMIT;' >&3; exec 3>&-
wait "$p"; pe=$?
[ "$pe" -eq 0 ] || { echo "cdbexit|psql exited $pe" >&2; exit 1; }
echo "cdbexit|$e" >&2`;

export async function pgDump(docker: Docker, d: DbComponent, db: string, level: number): Promise<DumpStream> {
  const h = await execStream(docker, d.containerId, ['sh', '-c', PG_DUMP_SCRIPT, 'sh', pgUser(d), db, String(level)]);
  return {
    stdout: h.stdout,
    async finish() {
      const { exitCode, stderr } = await h.done;
      // `cdbexit|N` is pg_dump's status; `cdbexit|psql exited N` the counting session's, which ended first.
      const exit = /^cdbexit\|(.+)$/m.exec(stderr)?.[1];
      const own = stderr.replace(/^cdb(count|exit)\|.*$/gm, '').trim().slice(-400);
      if (exitCode !== 0 || exit !== '0') throw new Error(`pg_dump of ${db} failed (${exit?.startsWith('psql') ? `the counting session's ${exit}` : `exit ${exit ?? exitCode}`}): ${own}`);
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

export async function pgReady(docker: Docker, containerId: string, user: string): Promise<boolean> {
  try {
    await pgExec(docker, containerId, user, 'postgres', 'select 1', 'ask PostgreSQL');
    return true;
  } catch {
    return false;
  }
}
