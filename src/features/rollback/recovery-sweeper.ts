import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../shared/config/schema.ts';
import { keyPrefix } from '../../shared/queue/names.ts';
import { lockHolder, takeOverLock, acquireLock, type HeldLock } from '../../shared/lock.ts';
import { journalAlive, loadJournal } from '../../shared/journal.ts';
import { withRollbackEnv } from './env.ts';
import type { RollbackJournalData } from './journal.ts';
import { ManifestStore } from './manifest-store.ts';
import { recoverJournal, type SendReply } from './recover.ts';
import { openJournals } from './stack-lock.ts';
import { startSweepLoop, type SweepLoop } from '../../shared/sweep-loop.ts';

export interface SweeperDeps {
  readonly config: Config;
  readonly docker: Docker;
  readonly redis: Redis;
  readonly log: Logger;
  /** The worker's replies queue: the recovered request's thread is told through it. */
  readonly send: SendReply;
}

/** The stack lock for a recovery: free, or held by the dead owner itself (taken over at once). */
async function lockFor(deps: SweeperDeps, key: string, j: RollbackJournalData): Promise<HeldLock | undefined> {
  const owner = `recovery-${j.id}`;
  const free = await acquireLock(deps.redis, key, { owner });
  if (free) return free;
  const holder = await lockHolder(deps.redis, key);
  return holder && holder === j.lockToken ? takeOverLock(deps.redis, key, holder, { owner }) : undefined;
}

async function recoverOne(deps: SweeperDeps, j: RollbackJournalData): Promise<boolean> {
  const prefix = keyPrefix(deps.config);
  const key = new ManifestStore(deps.redis, prefix, deps.config.rollback.manifestDir, j.project).lockKey;
  const lock = await lockFor(deps, key, j);
  // Someone else holds it: another recoverer, or a new tag/rollback (which recovers it first itself).
  if (!lock) return false;
  try {
    // Re-read under the lock: another worker may have finished it meanwhile.
    const fresh = await loadJournal<RollbackJournalData>(deps.redis, prefix, j.id);
    if (!fresh || fresh.state !== 'open' || (await journalAlive(deps.redis, prefix, j.id))) return false;
    const ctx = {
      requestId: fresh.id, actor: fresh.actor, config: deps.config, docker: deps.docker, redis: deps.redis, log: deps.log,
      signal: new AbortController().signal, progress: () => undefined, notify: async () => undefined,
    };
    await withRollbackEnv(ctx, (env) => recoverJournal(env, fresh, deps.send));
    return true;
  } finally {
    await lock.release().catch(() => undefined);
  }
}

/** One pass: every open journal of this worker's stack whose owner is gone is finished or reverted. */
export async function sweepJournals(deps: SweeperDeps): Promise<number> {
  const { orphans } = await openJournals(deps.redis, keyPrefix(deps.config), deps.config.stack.project);
  let recovered = 0;
  for (const j of orphans) {
    try {
      if (await recoverOne(deps, j)) recovered++;
    } catch (err) {
      // Left open: the next pass (here or on another worker) tries again from the new state.
      deps.log.error({ err, requestId: j.id }, 'recovering an interrupted rollback failed; retrying');
    }
  }
  return recovered;
}

export type RecoverySweeper = SweepLoop;

/**
 * Runs at worker start and then every `intervalMs` on every worker: journals whose owner's
 * heartbeat expired (JOURNAL_ALIVE_TTL_MS) are recovered within seconds by whichever live worker
 * gets the stack lock first.
 */
export function startRecoverySweeper(deps: SweeperDeps, intervalMs = 2000): RecoverySweeper {
  return startSweepLoop({ everyMs: intervalMs, sweep: () => sweepJournals(deps), onError: (err) => deps.log.warn({ err }, 'journal sweep failed; retrying') });
}
