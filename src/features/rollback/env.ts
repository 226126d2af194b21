import type { JobContext } from '../../worker/define-job.ts';
import { keyPrefix } from '../../shared/queue/names.ts';
import { ManifestStore } from './manifest-store.ts';
import { hostFilesFor, type HostFiles } from '../../host/host-files.ts';
import { overlayPathFor } from './compose-files.ts';

/** What every rollback job needs beyond the job context: the manifests and the stack host's files. */
export interface RollbackEnv extends JobContext {
  readonly project: string;
  readonly store: ManifestStore;
  readonly files: HostFiles;
  readonly overlayPath?: string;
}

/** Opens the stack host's files for one job (and closes them after); Redis is the worker's shared one. */
export async function withRollbackEnv<T>(ctx: JobContext, fn: (env: RollbackEnv) => Promise<T>): Promise<T> {
  const files = hostFilesFor(ctx.config, 'change');
  const project = ctx.config.stack.project;
  const store = new ManifestStore(ctx.redis, keyPrefix(ctx.config), ctx.config.rollback.manifestDir, project);
  try {
    return await fn({ ...ctx, project, store, files, overlayPath: overlayPathFor(ctx.config) });
  } finally {
    await files.close().catch(() => undefined);
  }
}
