import type { Redis } from 'ioredis';
import type { Finding } from '../../shared/contracts/doctor.ts';
import { runNote } from './collect.ts';

export interface RedisPersistence {
  readonly aof: boolean;
  /** RDB save points; undefined when CONFIG is not allowed (managed Redis) and INFO cannot tell. */
  readonly snapshots?: boolean;
}

/** What cdb's own Redis keeps on disk: CONFIG GET where allowed, INFO persistence otherwise. */
export async function readRedisPersistence(redis: Redis): Promise<RedisPersistence> {
  try {
    const [, appendonly = ''] = (await redis.config('GET', 'appendonly')) as string[];
    const [, save = ''] = (await redis.config('GET', 'save')) as string[];
    return { aof: appendonly === 'yes', snapshots: save.trim() !== '' };
  } catch {
    const info = await redis.info('persistence');
    return { aof: /^aof_enabled:1\r?$/m.test(info) };
  }
}

const FIX = 'Run Redis with `--appendonly yes` (compose/ does); see runbooks/doctor.md.';

/**
 * A line about the run, not a check of the stack: it is about cdb's own state store, so it shows on
 * every interactive doctor run whatever checks were selected. Undefined when AOF is on.
 */
export function persistenceNote(p: RedisPersistence): Finding | undefined {
  if (p.aof) return undefined;
  if (p.snapshots === false) {
    return runNote('medium', `cdb's own Redis persists nothing (no AOF, no snapshots): a restart loses every queued job, reply, approval request and the audit stream; requests still waiting are answered JOB_LOST. ${FIX}`, 'redis');
  }
  const what = p.snapshots ? 'saves only periodic snapshots (RDB)' : 'has AOF off (and CONFIG is not allowed, so snapshots are unknown)';
  return runNote('low', `cdb's own Redis ${what}: a restart loses the jobs and replies since the last save; requests still waiting are answered JOB_LOST. ${FIX}`, 'redis');
}

/** The note for the Redis the worker shares with the bot; a Redis that cannot be read adds nothing. */
export async function redisPersistenceFinding(redis: Redis): Promise<Finding | undefined> {
  try {
    return persistenceNote(await readRedisPersistence(redis));
  } catch {
    return undefined;
  }
}
