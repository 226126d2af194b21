import type Docker from 'dockerode';
import { execStream, execText } from './engine-exec.ts';
import { REDIS_AUTH, type DbComponent } from './discover.ts';
import type { DumpStream } from './dump-stream.ts';

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
