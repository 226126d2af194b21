import { defineJob } from '../src/worker/define-job.ts';
import { tagArgs, type TagResult } from '../src/shared/contracts/rollback.ts';
import { withRollbackEnv } from '../src/features/rollback/env.ts';
import { withStackLock } from '../src/features/rollback/stack-lock.ts';
import { takeSnapshot } from '../src/features/rollback/snapshot.ts';
import { createTag, protectedTags, prune } from '../src/features/rollback/tagger.ts';

export default defineJob({
  name: 'tag',
  args: tagArgs,
  timeoutMs: 120_000,
  async run(ctx, { label }): Promise<TagResult> {
    const started = Date.now();
    return withRollbackEnv(ctx, (env) =>
      withStackLock(env, 'the tag', async () => {
        ctx.progress(`Tagging the images of ${env.project}…`);
        const snapshot = await takeSnapshot(env.docker, env.project);
        const { manifest, file } = await createTag(env, 'rollback', label, snapshot);
        const keep = await protectedTags(env, snapshot);
        keep.add(manifest.tag);
        const pruned = await prune(env, keep);
        return {
          project: env.project,
          tag: manifest.tag,
          services: Object.entries(manifest.services).map(([service, s]) => ({ service, imageId: s.imageId, originalRef: s.originalRef, ref: s.ref })),
          manifestFile: file,
          pruned,
          durationMs: Date.now() - started,
        };
      }),
    );
  },
});
