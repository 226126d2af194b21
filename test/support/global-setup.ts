import { Redis } from 'ioredis';
import { assertDockerAvailable, ensureTestImages } from './images.ts';
import { ensureDbImage } from './db-images.ts';

/** Integration tests need real services; a missing one fails the run with what to do, never a skip. */
export default async function setup(): Promise<void> {
  await assertDockerAvailable();
  const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis is not reachable at ${process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'} (${(err as Error).message}). Run: bash scripts/ensure-services.sh`);
  } finally {
    redis.disconnect();
  }
  await ensureTestImages();
  // Built once per machine (debootstrap, a few minutes), then cached by tag.
  await ensureDbImage();
}
