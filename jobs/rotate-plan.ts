import { defineJob } from '../src/worker/define-job.ts';
import { rotatePlanArgs, type RotationPlan } from '../src/shared/contracts/rotation.ts';
import { buildRotationPlan, modeOf } from '../src/features/rotation/plan.ts';
import { dryRun } from '../src/features/rotation/run.ts';
import { rotationDeps } from '../src/features/rotation/job-deps.ts';
import { assertIdle } from '../src/features/rotation/journal.ts';
import { keyPrefix } from '../src/shared/queue/names.ts';

/**
 * Read-only: what `/cdb rotate <secret>` would do, for the approval request. `--setup` includes the
 * dry run against the live database. The fingerprint is pinned: the run refuses if it changed.
 */
export default defineJob({
  name: 'rotate-plan',
  args: rotatePlanArgs,
  timeoutMs: 60_000,
  async run(ctx, args): Promise<RotationPlan> {
    const mode = modeOf(args);
    // Refused before an approver is bothered: a second rotation of the same secret would only be refused later.
    await assertIdle(ctx.redis, keyPrefix(ctx.config), args.secret);
    const dry = mode === 'setup' ? await dryRun(rotationDeps(ctx), args.secret, mode) : undefined;
    return buildRotationPlan(ctx.config, args.secret, mode, dry);
  },
});
