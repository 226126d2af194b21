import { defineJob } from '../src/worker/define-job.ts';
import { rotateArgs, type RotationResultView } from '../src/shared/contracts/rotation.ts';
import { OpsError } from '../src/shared/errors.ts';
import { buildRotationPlan, modeOf } from '../src/features/rotation/plan.ts';
import { dryRun, startRotation } from '../src/features/rotation/run.ts';
import { rotationDeps } from '../src/features/rotation/job-deps.ts';

/** Runs only after approval (`rotate` has `approval: true`); the values never leave the worker. */
export default defineJob({
  name: 'rotate',
  journaled: true,
  args: rotateArgs,
  // A rolling restart of many consumers with health waits can take a while; the journal makes it resumable anyway.
  timeoutMs: 3_600_000,
  async run(ctx, args): Promise<RotationResultView> {
    const mode = modeOf(args);
    const deps = rotationDeps(ctx);
    if (args.expectPlan) {
      const dry = mode === 'setup' ? await dryRun(deps, args.secret, mode) : undefined;
      const plan = buildRotationPlan(ctx.config, args.secret, mode, dry);
      if (plan.fingerprint !== args.expectPlan) {
        throw new OpsError('PLAN_CHANGED', `The rotation plan of \`${args.secret}\` changed after it was approved (plan ${plan.fingerprint}, approved ${args.expectPlan}). Nothing was changed; request it again.`);
      }
    }
    return startRotation(deps, {
      secret: args.secret, mode, requestId: ctx.requestId, command: 'rotate', args: { ...args },
      origin: ctx.origin ?? { kind: 'cli' }, actor: ctx.actor,
    });
  },
});
