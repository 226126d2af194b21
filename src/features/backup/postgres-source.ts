import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { execStream, execText } from './engine-exec.ts';
import { PG_AUTH, pgUser, type DbComponent } from './discover.ts';
import { parseMarked, type DumpStream } from './dump-stream.ts';

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

export async function pgReady(docker: Docker, containerId: string, user: string): Promise<boolean> {
  try {
    await pgExec(docker, containerId, user, 'postgres', 'select 1', 'ask PostgreSQL');
    return true;
  } catch {
    return false;
  }
}
