import type { Redis } from 'ioredis';
import type { JobContext } from '../worker/define-job.ts';
import { connectRedis, keyPrefix } from '../queue/names.ts';
import { ManifestStore } from './manifest-store.ts';
import { overlayPathFor, stackFilesFor, type StackFiles } from './stack-files.ts';

/** What every rollback job needs beyond the job context: Redis, the manifests, the stack host's files. */
export interface RollbackEnv extends JobContext {
  readonly project: string;
  readonly redis: Redis;
  readonly store: ManifestStore;
  readonly files: StackFiles;
  readonly overlayPath?: string;
}

/**
 * Opens the connections for one job and closes them after. The job context carries no Redis
 * client (jobs so far needed none), so rollback jobs hold their own for the job's duration.
 */
export async function withRollbackEnv<T>(ctx: JobContext, fn: (env: RollbackEnv) => Promise<T>): Promise<T> {
  const redis = connectRedis(ctx.config);
  redis.on('error', (err: unknown) => ctx.log.warn({ err }, 'rollback redis connection error'));
  const files = stackFilesFor(ctx.config);
  const project = ctx.config.stack.project;
  const store = new ManifestStore(redis, keyPrefix(ctx.config), ctx.config.rollback.manifestDir, project);
  try {
    return await fn({ ...ctx, project, redis, store, files, overlayPath: overlayPathFor(ctx.config) });
  } finally {
    await files.close().catch(() => undefined);
    await redis.quit().catch(() => redis.disconnect());
  }
}
