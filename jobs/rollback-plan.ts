import { defineJob } from '../src/worker/define-job.ts';
import { rollbackPlanArgs, type RollbackPlan } from '../src/shared/contracts/rollback.ts';
import { withRollbackEnv } from '../src/features/rollback/env.ts';
import { buildPlan } from '../src/features/rollback/build-plan.ts';
import { assertTagName } from '../src/features/rollback/naming.ts';

/**
 * Read-only: what `/cdb rollback <tag> [service…]` would do, for the approval request to show.
 * Pass the plan's `fingerprint` to the rollback job as `expectPlan` so that it refuses to run
 * if the stack moved on between approval and execution.
 */
export default defineJob({
  name: 'rollback-plan',
  args: rollbackPlanArgs,
  timeoutMs: 60_000,
  async run(ctx, { tag, services }): Promise<RollbackPlan> {
    if (tag !== 'latest') assertTagName(tag);
    return withRollbackEnv(ctx, async (env) => (await buildPlan(env, tag, services)).plan);
  },
});
