import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { SecurityConfig } from '../shared/config/schema.ts';

/**
 * Replay protection, rate limits and the accepted-request record in one Redis round trip (one Lua
 * call), so the ack pays for one call at most. Dedupe keys are `SET NX PX`: the first sighting wins,
 * every later one is a duplicate. Rate keys are counters per (user) and per (user, command) whose
 * window opens with the first command and lasts `windowSeconds` (the key's TTL, on Redis's clock, so
 * every bot replica counts alike); a refused request does not count. A request that passes is then
 * recorded as accepted (awaited-jobs.ts): the ack goes out before the enqueue, and this record is how
 * a bot that dies in between still tells the requester (BENCHMARKS.md, ack).
 *
 * KEYS: n dedupe keys, m rate keys, then [the accepted hash].
 * ARGV: n, m, dedupe TTL ms, window ms, one limit per rate key, then [field, record, hash TTL ms].
 * Returns {'dup', index} | {'limited', retryAfterMs, index} | {'ok'}.
 */
const GUARD_LUA = `
local n = tonumber(ARGV[1])
local m = tonumber(ARGV[2])
for i = 1, n do
  if not redis.call('SET', KEYS[i], '1', 'NX', 'PX', ARGV[3]) then return {'dup', i} end
end
for j = 1, m do
  local count = tonumber(redis.call('GET', KEYS[n + j]) or '0')
  if count >= tonumber(ARGV[4 + j]) then
    local ttl = redis.call('PTTL', KEYS[n + j])
    if ttl < 0 then ttl = tonumber(ARGV[4]) end
    return {'limited', ttl, j}
  end
end
for j = 1, m do
  if redis.call('INCR', KEYS[n + j]) == 1 then redis.call('PEXPIRE', KEYS[n + j], ARGV[4]) end
end
if #KEYS > n + m then
  redis.call('HSET', KEYS[n + m + 1], ARGV[5 + m], ARGV[6 + m])
  redis.call('PEXPIRE', KEYS[n + m + 1], ARGV[7 + m])
end
return {'ok'}
`;

/** Slack's signature window: requests further than this from now (either way) are refused. */
export const SIGNATURE_WINDOW_SECONDS = 300;

export type GuardVerdict =
  | { readonly kind: 'ok' }
  | { readonly kind: 'duplicate'; readonly what: 'request' | 'envelope' | 'event' }
  | { readonly kind: 'limited'; readonly retryAfterMs: number; readonly scope: 'user' | 'command'; readonly limit: number };

export interface GuardInput {
  /** Hash of the signed request, or the Socket Mode envelope id. */
  readonly request?: { readonly kind: 'request' | 'envelope'; readonly id: string };
  /** Events API: Slack's event id, the same across Slack's own retries. */
  readonly eventId?: string;
  /** Slash commands: who asked and the subcommand word. */
  readonly command?: { readonly userId: string; readonly name: string };
  /** Recorded (HSET) only when the request passes: the accepted record of a slash command. */
  readonly accept?: { readonly key: string; readonly field: string; readonly record: string; readonly ttlMs: number };
}

/**
 * The replay key of a signed HTTP request: its v0 signature, an HMAC of its timestamp and body (the
 * gate let it through only if it matched), so it names that exact request already; hashing it again
 * cost a sha256 per ack.
 */
export function signedRequestId(signature: string): string {
  return signature.startsWith('v0=') ? signature.slice(3) : signature;
}

type Defined = Pick<Redis, 'eval' | 'evalsha'>;
const GUARD_SHA = createHash('sha1').update(GUARD_LUA).digest('hex');

export class RequestGuard {
  private readonly rate: SecurityConfig['rateLimits'];

  constructor(
    private readonly redis: Defined,
    private readonly prefix: string,
    private readonly security: SecurityConfig,
  ) {
    this.rate = security.rateLimits;
  }

  /** Whether check() would talk to Redis at all for this input (both features off: no round trip). */
  active(input: GuardInput): boolean {
    return Boolean(input.accept) || (this.security.replayProtection && Boolean(input.request || input.eventId)) || (this.rate.enabled && Boolean(input.command));
  }

  async check(input: GuardInput): Promise<GuardVerdict> {
    if (!this.active(input)) return { kind: 'ok' };
    const dedupe: { key: string; what: 'request' | 'envelope' | 'event' }[] = [];
    if (this.security.replayProtection) {
      if (input.request) dedupe.push({ key: `${this.prefix}:seen:${input.request.kind}:${input.request.id}`, what: input.request.kind });
      if (input.eventId) dedupe.push({ key: `${this.prefix}:seen:event:${input.eventId}`, what: 'event' });
    }
    const rate: { key: string; limit: number; scope: 'user' | 'command' }[] = [];
    if (this.rate.enabled && input.command) {
      const { userId, name } = input.command;
      rate.push({ key: `${this.prefix}:rl:u:${userId}`, limit: this.rate.perUser, scope: 'user' });
      const perCommand = this.rate.commands[name];
      if (perCommand !== undefined) rate.push({ key: `${this.prefix}:rl:c:${name}:${userId}`, limit: perCommand, scope: 'command' });
    }
    // Twice the window: a request signed at the edge of the window in the future stays remembered
    // until it is too old to be accepted.
    const ttlMs = SIGNATURE_WINDOW_SECONDS * 2 * 1000;
    const accept = input.accept;
    const keys = [...dedupe.map((d) => d.key), ...rate.map((r) => r.key), ...(accept ? [accept.key] : [])];
    const argv = [String(dedupe.length), String(rate.length), String(ttlMs), String(this.rate.windowSeconds * 1000), ...rate.map((r) => String(r.limit)), ...(accept ? [accept.field, accept.record, String(accept.ttlMs)] : [])];
    // EVALSHA: the script's text is not sent (and hashed by Redis) once per request.
    const res = (await this.redis.evalsha(GUARD_SHA, keys.length, ...keys, ...argv).catch((err: unknown) => {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return this.redis.eval(GUARD_LUA, keys.length, ...keys, ...argv);
    })) as [string, number?, number?];
    if (res[0] === 'dup') return { kind: 'duplicate', what: dedupe[(res[1] ?? 1) - 1]?.what ?? 'request' };
    if (res[0] === 'limited') {
      const hit = rate[(res[2] ?? 1) - 1];
      return { kind: 'limited', retryAfterMs: Number(res[1] ?? 0), scope: hit?.scope ?? 'user', limit: hit?.limit ?? this.rate.perUser };
    }
    return { kind: 'ok' };
  }
}

/** The subcommand word of `/cdb <text>`, as the rate limits count it (help when empty). */
export function subcommandWord(text: string): string {
  return (text.trim().split(/\s+/)[0] ?? '').toLowerCase().slice(0, 31) || 'help';
}
