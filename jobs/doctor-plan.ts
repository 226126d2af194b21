import { z } from 'zod';
import { defineJob } from '../src/worker/define-job.ts';
import { checkSelection, expandSelection, type DoctorFixPlan } from '../src/shared/contracts/doctor.ts';
import { hostFilesFor } from '../src/host/host-files.ts';
import { destructivePlan } from '../src/features/doctor/fix-plan.ts';
import { runDoctor } from '../src/features/doctor/run-doctor.ts';

/** Read-only: what `doctor --fix=all` would remove, for the approval request to show and pin. */
export default defineJob({
  name: 'doctor-plan',
  args: z.object({ checks: checkSelection.optional() }).strict(),
  timeoutMs: 120_000,
  async run(ctx, args): Promise<DoctorFixPlan> {
    const files = hostFilesFor(ctx.config, 'inspect', ctx.config.doctor.timeoutSeconds * 1000);
    try {
      const checks = args.checks?.length ? expandSelection(args.checks) : undefined;
      const run = await runDoctor({ docker: ctx.docker, config: ctx.config, files, checks, signal: ctx.signal });
      return destructivePlan(ctx.config.stack.project, run.fixes);
    } finally {
      await files.close();
    }
  },
});
