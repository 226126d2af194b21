import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { execStream, execText } from './engine-exec.ts';
import { MY_AUTH, type DbComponent } from './discover.ts';
import type { DumpStream } from './dump-stream.ts';

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
