import type { Redis } from 'ioredis';
import { OpsError } from './errors.ts';

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/**
 * One tag or rollback per stack at a time: a tag taken halfway through a rollback would record
 * parked containers, and two rollbacks would fight over the same containers.
 */
export async function withStackLock<T>(redis: Redis, key: string, owner: string, ttlMs: number, what: string, fn: () => Promise<T>): Promise<T> {
  const got = await redis.set(key, owner, 'PX', ttlMs, 'NX');
  if (got !== 'OK') {
    const holder = await redis.get(key);
    throw new OpsError('STACK_BUSY', `Another tag or rollback is running on this stack (request \`${holder ?? '?'}\`). Try ${what} again when it has finished.`);
  }
  try {
    return await fn();
  } finally {
    await redis.eval(RELEASE, 1, key, owner).catch(() => undefined);
  }
}
