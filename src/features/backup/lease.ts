import type { Redis } from 'ioredis';
import { OpsError } from '../../shared/errors.ts';
import { acquireLock, lockOwner, lockHolder } from '../../shared/lock.ts';

/**
 * One backup, restore or drill per stack at a time, on the project's one lock (src/shared/lock.ts):
 * a short TTL renewed while the work runs, so a SIGKILLed worker's lock expires in seconds, and a
 * restore journal whose lock is gone is known to be orphaned.
 */
export async function withLease<T>(redis: Redis, key: string, owner: string, what: string, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(redis, key, { owner });
  if (!lock) {
    const holder = await lockHolder(redis, key);
    throw new OpsError('STACK_BUSY', `Another backup, restore or drill is running on this stack (request \`${holder ? lockOwner(holder) : '?'}\`). Try ${what} again when it has finished.`);
  }
  try {
    return await fn();
  } finally {
    await lock.release().catch(() => undefined);
  }
}

export function leaseKey(prefix: string, project: string): string {
  return `${prefix}:backup:lock:${project}`;
}
