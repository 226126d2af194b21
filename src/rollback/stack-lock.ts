import type { Redis } from 'ioredis';
import { OpsError } from '../errors.ts';
import { keyPrefix } from '../queue/names.ts';
import { acquireLock, lockHolder, lockOwner, takeOverLock, type HeldLock } from '../shared/lock.ts';
import { journalAlive, loadJournal, openJournalIds } from '../worker/journal.ts';
import type { RollbackEnv } from './env.ts';
import type { RollbackJournalData } from './journal.ts';
import { recoverJournal } from './recover.ts';

export interface OpenJournals {
  /** Owner alive: an operation in progress. */
  readonly live: RollbackJournalData[];
  /** Owner gone: to be finished or reverted. */
  readonly orphans: RollbackJournalData[];
}

/** The project's open journals, split by their owner's liveness; stale index entries are dropped. */
export async function openJournals(redis: Redis, prefix: string, project: string): Promise<OpenJournals> {
  const live: RollbackJournalData[] = [];
  const orphans: RollbackJournalData[] = [];
  for (const id of await openJournalIds(redis, prefix, project)) {
    const j = await loadJournal<RollbackJournalData>(redis, prefix, id);
    if (!j || j.state !== 'open') {
      await redis.srem(`${prefix}:journals:open:${project}`, id);
      continue;
    }
    ((await journalAlive(redis, prefix, id)) ? live : orphans).push(j);
  }
  return { live, orphans };
}

/**
 * One tag or rollback per stack at a time: a tag taken halfway through a rollback would record
 * parked containers, and two rollbacks would fight over the same containers. The lock is held with
 * a short TTL renewed while its holder runs; one held by a rollback whose journal shows its
 * owner dead is taken over at once.
 */
export async function acquireStackLock(redis: Redis, prefix: string, project: string, key: string, owner: string): Promise<HeldLock | undefined> {
  const lock = await acquireLock(redis, key, { owner });
  if (lock) return lock;
  const holder = await lockHolder(redis, key);
  if (!holder) return acquireLock(redis, key, { owner });
  const { orphans } = await openJournals(redis, prefix, project);
  return orphans.some((j) => j.lockToken === holder) ? takeOverLock(redis, key, holder, { owner }) : undefined;
}

/**
 * Runs `fn` under the stack lock. Rollbacks interrupted by a dead worker are finished or reverted
 * first (under the same lock), so nothing new starts on a half-switched stack.
 */
export async function withStackLock<T>(env: RollbackEnv, what: string, fn: (lock: HeldLock) => Promise<T>): Promise<T> {
  const prefix = keyPrefix(env.config);
  const lock = await acquireStackLock(env.redis, prefix, env.project, env.store.lockKey, env.requestId);
  if (!lock) {
    const holder = await lockHolder(env.redis, env.store.lockKey);
    throw new OpsError('JOB_FAILED', `Another tag or rollback is running on this stack (request \`${holder ? lockOwner(holder) : '?'}\`). Try ${what} again when it has finished.`);
  }
  try {
    const { live, orphans } = await openJournals(env.redis, prefix, env.project);
    const busy = live.find((j) => j.phase !== 'reporting' && j.id !== env.requestId);
    if (busy) throw new OpsError('JOB_FAILED', `Another rollback is running on this stack (request \`${busy.id}\`). Try ${what} again when it has finished.`);
    for (const j of orphans) {
      env.progress(`Finishing an interrupted rollback (request ${j.id}) first…`);
      await recoverJournal(env, j);
    }
    return await fn(lock);
  } finally {
    await lock.release().catch(() => undefined);
  }
}
