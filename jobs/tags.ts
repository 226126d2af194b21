import { defineJob } from '../src/worker/define-job.ts';
import { tagsArgs, type TagsResult } from '../src/shared/contracts/rollback.ts';
import { withRollbackEnv } from '../src/features/rollback/env.ts';
import { listTags } from '../src/features/rollback/list-tags.ts';

export default defineJob({
  name: 'tags',
  args: tagsArgs,
  timeoutMs: 60_000,
  async run(ctx, { limit }): Promise<TagsResult> {
    return withRollbackEnv(ctx, (env) => listTags(env, limit));
  },
});
