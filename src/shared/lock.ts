import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * The one Redis lock of cdb. It follows its holder's liveness: a short TTL, renewed on a timer for
 * as long as the holder runs, so a killed holder frees it within one TTL instead of minutes.
 * The value is a token (`<owner>.<random>`); renew, release and take-over compare it in Lua, so
 * a holder that lost the lock can never renew or release someone else's.
 */

const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
const RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
const TAKE_OVER = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0";

export const DEFAULT_LOCK_TTL_MS = 15_000;
const WAIT_POLL_MS = 25;

export interface LockOptions {
  /** Expiry if the holder stops renewing (dies). */
  readonly ttlMs?: number;
  /** How often a holder renews; default a third of the TTL. 0: never (for holds shorter than the TTL). */
  readonly renewEveryMs?: number;
  /** How long to wait for a busy lock; default 0 (one try). */
  readonly waitMs?: number;
  /** Readable part of the token: who holds it (a request id), shown to whoever finds it busy. */
  readonly owner?: string;
  /** Told once when a renewal finds the lock gone or taken. */
  readonly onLost?: () => void;
}

export interface HeldLock {
  readonly key: string;
  readonly token: string;
  /** Aborted when a renewal finds the lock expired or taken: the holder must stop changing things. */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

/** The owner part of a token (what `LockOptions.owner` was). */
export function lockOwner(token: string): string {
  const dot = token.lastIndexOf('.');
  return dot > 0 ? token.slice(0, dot) : token;
}

function newToken(owner?: string): string {
  const safe = (owner ?? 'lock').replace(/[^A-Za-z0-9:_-]/g, '_').slice(0, 80) || 'lock';
  return `${safe}.${randomBytes(9).toString('base64url')}`;
}

function hold(redis: Redis, key: string, token: string, opts: LockOptions): HeldLock {
  const ttlMs = opts.ttlMs ?? DEFAULT_LOCK_TTL_MS;
  const every = opts.renewEveryMs ?? Math.max(100, Math.floor(ttlMs / 3));
  const lost = new AbortController();
  let lastRenewed = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const lose = () => {
    if (lost.signal.aborted) return;
    clearInterval(timer);
    lost.abort(new Error(`lock ${key} lost`));
    opts.onLost?.();
  };
  if (every > 0) {
    timer = setInterval(() => {
      redis.eval(RENEW, 1, key, token, String(ttlMs)).then(
        (ok) => {
          if (ok === 1) lastRenewed = Date.now();
          else lose();
        },
        // Redis unreachable: the key may still be there; after a whole TTL without a renewal it is not.
        () => {
          if (Date.now() - lastRenewed >= ttlMs) lose();
        },
      );
    }, every);
    // A holder that is otherwise done must not be kept alive by its renewals.
    timer.unref();
  }
  return {
    key,
    token,
    lost: lost.signal,
    async release() {
      clearInterval(timer);
      await redis.eval(RELEASE, 1, key, token);
    },
  };
}

/** SET NX PX with a fresh token, retried until `waitMs`; undefined when still busy. */
export async function acquireLock(redis: Redis, key: string, opts: LockOptions = {}): Promise<HeldLock | undefined> {
  const token = newToken(opts.owner);
  const ttlMs = opts.ttlMs ?? DEFAULT_LOCK_TTL_MS;
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (;;) {
    if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK') return hold(redis, key, token, opts);
    if (Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
  }
}

/**
 * Takes the lock over from a holder known to be dead (its own liveness key expired), without
 * waiting for the TTL: atomically, and only if `expectedToken` still holds it.
 */
export async function takeOverLock(redis: Redis, key: string, expectedToken: string, opts: LockOptions = {}): Promise<HeldLock | undefined> {
  const token = newToken(opts.owner);
  const ttlMs = opts.ttlMs ?? DEFAULT_LOCK_TTL_MS;
  const ok = await redis.eval(TAKE_OVER, 1, key, expectedToken, token, String(ttlMs));
  return ok === 1 ? hold(redis, key, token, opts) : undefined;
}

/** The token that holds the lock now, if any. */
export async function lockHolder(redis: Redis, key: string): Promise<string | undefined> {
  return (await redis.get(key)) ?? undefined;
}
