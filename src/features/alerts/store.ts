import type { Redis } from 'ioredis';

/**
 * Alert state in Redis, the only state workers share. Values are stored as `<rev>|<json>`; every
 * write is a compare-and-set on the revision inside one Lua script, so two workers that computed a
 * transition from the same state cannot both write it (the loser re-reads and sees the incident).
 * A short per-container lock (src/shared/lock.ts) additionally orders "write state, then queue its Slack notices" so a
 * thread reply can never overtake the root message it belongs to.
 */
const CAS_SCRIPT = `
local conflicts = {}
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local field = ARGV[2 + i * 3]
  local expected = tonumber(ARGV[3 + i * 3])
  local value = ARGV[4 + i * 3]
  local current = redis.call('HGET', KEYS[1], field)
  local rev = 0
  if current then rev = tonumber(string.match(current, '^(%d+)|')) or 0 end
  if rev == expected then
    if value == '' then redis.call('HDEL', KEYS[1], field) else redis.call('HSET', KEYS[1], field, value) end
  else
    table.insert(conflicts, field)
  end
end
return conflicts
`;

export interface Versioned<T> {
  readonly rev: number;
  readonly value: T;
}

export interface CasWrite<T> {
  readonly field: string;
  /** The revision the new value was computed from (0: the field did not exist). */
  readonly expectedRev: number;
  /** undefined deletes the field. */
  readonly value: T | undefined;
}

function decode<T>(raw: string): Versioned<T> | undefined {
  const bar = raw.indexOf('|');
  const rev = Number(raw.slice(0, bar));
  if (bar < 1 || !Number.isInteger(rev)) return undefined;
  try {
    return { rev, value: JSON.parse(raw.slice(bar + 1)) as T };
  } catch {
    return undefined;
  }
}

export class VersionedHash<T> {
  constructor(
    private readonly redis: Redis,
    readonly key: string,
  ) {}

  async all(): Promise<Map<string, Versioned<T>>> {
    const raw = await this.redis.hgetall(this.key);
    const out = new Map<string, Versioned<T>>();
    for (const [field, value] of Object.entries(raw)) {
      const v = decode<T>(value);
      if (v) out.set(field, v);
    }
    return out;
  }

  async get(field: string): Promise<Versioned<T> | undefined> {
    const raw = await this.redis.hget(this.key, field);
    return raw === null ? undefined : decode<T>(raw);
  }

  /** Applies every write whose expected revision still holds; returns the fields that conflicted. */
  async cas(writes: readonly CasWrite<T>[]): Promise<string[]> {
    if (!writes.length) return [];
    const args: string[] = [String(writes.length)];
    for (const w of writes) args.push(w.field, String(w.expectedRev), w.value === undefined ? '' : `${w.expectedRev + 1}|${JSON.stringify(w.value)}`);
    const conflicts = (await this.redis.eval(CAS_SCRIPT, 1, this.key, ...args)) as string[];
    return conflicts;
  }
}

/** Key names under the configured prefix. */
export function alertKeys(prefix: string): { states: string; meta: string; lock: (name: string) => string } {
  return { states: `${prefix}:alerts:state`, meta: `${prefix}:alerts:meta`, lock: (name) => `${prefix}:alerts:lock:${name}` };
}
