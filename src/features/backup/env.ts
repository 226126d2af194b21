import type { JobContext } from '../../worker/define-job.ts';
import { keyPrefix } from '../../shared/queue/names.ts';
import { leaseKey, withLease } from './lease.ts';
import { BackupStore } from './store.ts';

/** What every backup job needs beyond the job context. */
export interface BackupEnv extends JobContext {
  readonly project: string;
  readonly store: BackupStore;
  readonly prefix: string;
}

export function backupEnv(ctx: JobContext): BackupEnv {
  const project = ctx.config.stack.project;
  return { ...ctx, project, store: new BackupStore(ctx.config.backup.dir, project), prefix: keyPrefix(ctx.config) };
}

/** Runs `fn` holding the stack's backup lease (one backup, restore or drill at a time). */
export function exclusive<T>(env: BackupEnv, what: string, fn: () => Promise<T>): Promise<T> {
  return withLease(env.redis, leaseKey(env.prefix, env.project), env.requestId, what, fn);
}
