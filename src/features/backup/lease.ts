import type { Redis } from 'ioredis';
import { OpsError } from '../../shared/errors.ts';

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

/** How long a lease outlives its owner: a killed worker's lock frees itself within this. */
export const LEASE_TTL_MS = 15_000;

/**
 * One backup, restore or drill per stack at a time. The lock follows its owner's liveness: a short
 * TTL renewed while the work runs, so a SIGKILLed worker's lock expires in seconds, and a restore
 * journal whose lease is gone is known to be orphaned. (The rollback work of issue 9 adds a shared
 * lock in src/shared/lock.ts; this one can move onto it.)
 */
export async function withLease<T>(redis: Redis, key: string, owner: string, what: string, fn: () => Promise<T>): Promise<T> {
  const got = await redis.set(key, owner, 'PX', LEASE_TTL_MS, 'NX');
  if (got !== 'OK') {
    const holder = await redis.get(key);
    throw new OpsError('JOB_FAILED', `Another backup, restore or drill is running on this stack (request \`${holder ?? '?'}\`). Try ${what} again when it has finished.`);
  }
  const timer = setInterval(() => void redis.eval(RENEW, 1, key, owner, String(LEASE_TTL_MS)).catch(() => undefined), LEASE_TTL_MS / 3);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
    await redis.eval(RELEASE, 1, key, owner).catch(() => undefined);
  }
}

export function leaseKey(prefix: string, project: string): string {
  return `${prefix}:backup:lock:${project}`;
}
