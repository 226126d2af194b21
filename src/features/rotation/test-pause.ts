import type { Redis } from 'ioredis';

/**
 * Deterministic crash points for the tests (never set in production): with
 * CDB_TEST_ROTATION_PAUSE=<step>:<before|after>, the worker records where it stopped in
 * `<prefix>:rotation:paused:<secret>` and waits there until it is killed (SIGKILL).
 * `after` means the step ran but the journal has not recorded it, so the next worker runs it again.
 */
export async function pausePoint(redis: Redis, key: string, step: string, when: 'before' | 'after', signal: AbortSignal): Promise<void> {
  const want = process.env.CDB_TEST_ROTATION_PAUSE;
  if (!want || want !== `${step}:${when}`) return;
  await redis.set(key, `${step}:${when}`);
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
