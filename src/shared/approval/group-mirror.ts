import { z } from 'zod';
import type { Redis } from 'ioredis';
import type { GroupDirectory } from '../auth/authorize.ts';

/**
 * The worker holds no Slack token, so it cannot ask Slack who is in a user group. The bot writes what
 * it learns into Redis (`<prefix>:groups`, one field per group, stamped with Redis's clock) and the
 * worker's role re-check reads it. A mirror older than MAX_AGE counts as empty: fail closed.
 */
export const MIRROR_MAX_AGE_MS = 10 * 60_000;

const entrySchema = z.object({ at: z.number(), members: z.array(z.string()) });

function mirrorKey(prefix: string): string {
  return `${prefix}:groups`;
}

async function redisNow(redis: Redis): Promise<number> {
  const [sec, usec] = await redis.time();
  return Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
}

export async function writeGroupMirror(redis: Redis, prefix: string, groupId: string, members: ReadonlySet<string>): Promise<void> {
  const entry = { at: await redisNow(redis), members: [...members].sort() };
  await redis.hset(mirrorKey(prefix), groupId, JSON.stringify(entry));
}

/** The bot's directory, writing every answer it gives to the mirror (failures are logged by `onError`). */
export function mirroringDirectory(inner: GroupDirectory, redis: Redis, prefix: string, onError: (err: unknown) => void): GroupDirectory {
  return {
    async members(groupId) {
      const members = await inner.members(groupId);
      await writeGroupMirror(redis, prefix, groupId, members).catch(onError);
      return members;
    },
  };
}

/** The worker's directory: the bot's mirror, if fresh. */
export function mirrorDirectory(redis: Redis, prefix: string, maxAgeMs = MIRROR_MAX_AGE_MS): GroupDirectory {
  return {
    async members(groupId) {
      const raw = await redis.hget(mirrorKey(prefix), groupId);
      const parsed = raw ? entrySchema.safeParse(JSON.parse(raw)) : undefined;
      if (!parsed?.success) return new Set<string>();
      if ((await redisNow(redis)) - parsed.data.at > maxAgeMs) return new Set<string>();
      return new Set(parsed.data.members);
    },
  };
}
