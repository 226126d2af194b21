import { defineJob } from '../src/worker/define-job.ts';
import { doctorArgs, expandSelection, type DoctorResult } from '../src/shared/contracts/doctor.ts';
import { OpsError } from '../src/shared/errors.ts';
import { hostFilesFor } from '../src/host/host-files.ts';
import { applyFixes, describePlan } from '../src/features/doctor/fix.ts';
import { destructivePlan } from '../src/features/doctor/fix-plan.ts';
import { assertMayFix } from '../src/features/doctor/may-fix.ts';
import { runDoctor } from '../src/features/doctor/run-doctor.ts';
import { redisPersistenceFinding } from '../src/features/doctor/redis-persistence.ts';
import { lastRunKey, readLastRun, reportIfChanged } from '../src/features/doctor/scheduled.ts';
import { isScheduledRun } from '../src/features/doctor/schedule.ts';

export default defineJob({
  name: 'doctor',
  args: doctorArgs,
  timeoutMs: 120_000,
  async run(ctx, args): Promise<DoctorResult> {
    // The arguments alone never unlock destructive fixes: only a run the approval gate admitted does.
    const destructive = args.fix === 'all';
    if (destructive && !ctx.approval) {
      throw new OpsError('APPROVAL_REQUIRED', '`doctor --fix=all` removes running containers and volumes, so it runs only after a second person approves it in Slack. Nothing was changed; `doctor --fix` does the safe fixes and lists the rest with their commands.');
    }
    if (args.fix) await assertMayFix(ctx.actor, ctx.config, ctx.groups);
    const files = hostFilesFor(ctx.config, 'inspect', ctx.config.doctor.timeoutSeconds * 1000);
    const checks = args.checks?.length ? expandSelection(args.checks) : undefined;
    const timeoutMs = ctx.config.doctor.timeoutSeconds * 1000;
    try {
      if (isScheduledRun(ctx)) {
        const previous = await readLastRun(ctx.redis, lastRunKey(ctx.config));
        const run = await runDoctor({ docker: ctx.docker, config: ctx.config, files, signal: ctx.signal, previousRestarts: previous?.restarts });
        await reportIfChanged(ctx, ctx.redis, run, previous);
        return run.result;
      }
      ctx.progress(`Examining ${ctx.config.stack.project}…`);
      const first = await runDoctor({ docker: ctx.docker, config: ctx.config, files, checks, signal: ctx.signal });
      // cdb's own Redis: a run line, since it is about the bot's state, not the stack under inspection.
      const persistence = await redisPersistenceFinding(ctx.redis);
      const noted = (r: DoctorResult): DoctorResult => (persistence ? { ...r, findings: [...r.findings, persistence] } : r);
      if (!args.fix) return noted(first.result);
      if (destructive) {
        const now = destructivePlan(ctx.config.stack.project, first.fixes);
        if (now.fingerprint !== args.expectPlan) {
          throw new OpsError('PLAN_CHANGED', `The orphans to remove changed since this was approved (plan ${args.expectPlan ?? 'none'}, now ${now.fingerprint}). Nothing was changed: request \`doctor --fix=all\` again to see the new list.`);
        }
      }
      ctx.progress(describePlan(first.fixes));
      const outcomes = await applyFixes(ctx.docker, first.fixes, { timeoutMs, destructive, signal: ctx.signal });
      // After a change, report the stack as it is now, not as it was.
      const after = outcomes.some((o) => o.outcome === 'done') ? await runDoctor({ docker: ctx.docker, config: ctx.config, files, checks, signal: ctx.signal }) : first;
      return { ...noted(after.result), fixes: outcomes };
    } finally {
      await files.close();
    }
  },
});
