// The one Redis lock (src/shared/lock.ts), on a real Redis: it lives as long as its holder renews
// it, frees itself when the holder stops, and only its token may renew, release or hand it over.
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { acquireLock, lockHolder, lockOwner, takeOverLock } from '../../src/shared/lock.ts';
import { randomSuffix, waitFor } from '../support/compose-stack.ts';
import { REDIS_URL } from '../support/harness.ts';

describe('shared lock', () => {
  const redis = new Redis(REDIS_URL);
  const prefix = `cdbt-${randomSuffix()}`;
  const key = (name: string) => `${prefix}:${name}`;

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('outlives many TTLs while its holder renews it, and goes at once on release', async () => {
    const lock = await acquireLock(redis, key('a'), { ttlMs: 1500, owner: 'req-1' });
    expect(lock).toBeDefined();
    expect(lockOwner((await lockHolder(redis, key('a'))) ?? '')).toBe('req-1');
    // Watch the key across several renewals: the TTL goes back up, the key never goes.
    let renewals = 0;
    let vanished = false;
    let last = Number.POSITIVE_INFINITY;
    await waitFor(async () => {
      const ttl = await redis.pttl(key('a'));
      if (ttl <= 0) vanished = true;
      if (ttl > last) renewals++;
      last = ttl;
      return vanished || renewals >= 3;
    }, { what: 'three renewals', timeoutMs: 60_000, intervalMs: 50 });
    expect(vanished).toBe(false);
    expect(await acquireLock(redis, key('a'), { ttlMs: 300 })).toBeUndefined();
    await lock?.release();
    expect(await redis.exists(key('a'))).toBe(0);
  });

  it('frees itself when its holder stops renewing (dies)', async () => {
    const dead = await acquireLock(redis, key('b'), { ttlMs: 300, renewEveryMs: 0 });
    expect(dead).toBeDefined();
    await waitFor(async () => (await redis.exists(key('b'))) === 0, { what: 'the lock to expire', timeoutMs: 10_000, intervalMs: 20 });
    const next = await acquireLock(redis, key('b'), { ttlMs: 5000, renewEveryMs: 0 });
    expect(next).toBeDefined();
    // The dead holder's late release cannot free the new holder's lock.
    await dead?.release();
    expect(await redis.exists(key('b'))).toBe(1);
    await next?.release();
  });

  it('tells its holder when the lock was lost, and only the named token can be taken over', async () => {
    const lock = await acquireLock(redis, key('c'), { ttlMs: 300 });
    const token = lock?.token ?? '';
    expect(await takeOverLock(redis, key('c'), 'someone-else.x', { ttlMs: 5000 })).toBeUndefined();
    const taken = await takeOverLock(redis, key('c'), token, { ttlMs: 5000, renewEveryMs: 0, owner: 'recovery' });
    expect(taken).toBeDefined();
    await waitFor(() => lock?.lost.aborted, { what: 'the old holder to learn it lost the lock', timeoutMs: 10_000, intervalMs: 20 });
    expect(lockOwner((await lockHolder(redis, key('c'))) ?? '')).toBe('recovery');
    await lock?.release();
    expect(await redis.exists(key('c'))).toBe(1);
    await taken?.release();
    expect(await redis.exists(key('c'))).toBe(0);
  });

  it('waits for a busy lock up to waitMs', async () => {
    const first = await acquireLock(redis, key('d'), { ttlMs: 5000, renewEveryMs: 0 });
    const waiting = acquireLock(redis, key('d'), { ttlMs: 5000, waitMs: 30_000, renewEveryMs: 0 });
    await first?.release();
    const second = await waiting;
    expect(second).toBeDefined();
    await second?.release();
  });
});
