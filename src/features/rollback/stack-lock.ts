import type { Redis } from 'ioredis';
import { OpsError } from '../../shared/errors.ts';
import { keyPrefix } from '../../shared/queue/names.ts';
import { acquireLock, lockHolder, lockOwner, type HeldLock } from '../../shared/lock.ts';
import { journalAlive, journalKeys, loadJournal, openJournalIds } from '../../shared/journal.ts';
import type { RollbackEnv } from './env.ts';
import type { RollbackJournalData } from './journal.ts';

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
      await redis.srem(journalKeys(prefix).open(project), id);
      continue;
    }
    ((await journalAlive(redis, prefix, id)) ? live : orphans).push(j);
  }
  return { live, orphans };
}

/**
 * Runs `fn` under the stack lock: one tag or rollback per stack at a time (a tag taken halfway
 * through a rollback would record parked containers, and two rollbacks would fight over the same
 * containers). The lock is held with a short TTL renewed while its holder runs (src/shared/lock.ts),
 * so a dead holder frees it within seconds. Nothing starts while a journal is open: a live one is
 * a rollback in progress; an orphaned one is finished or reverted by the recovery sweeper of any
 * live worker within seconds, and nothing may start on a half-switched stack before that.
 */
export async function withStackLock<T>(env: RollbackEnv, what: string, fn: (lock: HeldLock) => Promise<T>): Promise<T> {
  const lock = await acquireLock(env.redis, env.store.lockKey, { owner: env.requestId });
  if (!lock) {
    const holder = await lockHolder(env.redis, env.store.lockKey);
    throw new OpsError('STACK_BUSY', `Another tag or rollback is running on this stack (request \`${holder ? lockOwner(holder) : '?'}\`). Try ${what} again when it has finished.`);
  }
  try {
    const { live, orphans } = await openJournals(env.redis, keyPrefix(env.config), env.project);
    const busy = live.find((j) => j.phase !== 'reporting' && j.id !== env.requestId);
    if (busy) throw new OpsError('STACK_BUSY', `Another rollback is running on this stack (request \`${busy.id}\`). Try ${what} again when it has finished.`);
    const orphan = orphans[0];
    if (orphan) {
      throw new OpsError('STACK_BUSY', `A rollback (request \`${orphan.id}\`) was interrupted when its worker stopped; a running worker is finishing or reverting it now and will say so in its thread. Nothing was changed: try ${what} again in a few seconds.`);
    }
    return await fn(lock);
  } finally {
    await lock.release().catch(() => undefined);
  }
}
