import { z } from 'zod';
import { defineJob } from '../src/worker/define-job.ts';
import { containerName } from '../src/shared/contracts/alerts.ts';
import { runAlertCheck } from '../src/features/alerts/check.ts';
import { ALERTS_JOB, alertRuntimeFor } from '../src/features/alerts/runtime.ts';

/**
 * One health check (docs/alerts.md): scheduled every `alerts.intervalSeconds` by the job scheduler
 * that startAlertWatcher upserts, or enqueued early by a Docker event or at the end of a group wait.
 * It speaks only through notices (ctx.notify); its result is a small summary for the logs.
 */
export default defineJob({
  name: ALERTS_JOB,
  args: z
    .object({
      trigger: z.enum(['tick', 'event', 'followup']).default('tick'),
      containers: z.array(containerName).min(1).max(500).optional(),
    })
    .strict(),
  timeoutMs: 60_000,
  async run(ctx, args) {
    const runtime = alertRuntimeFor(ctx.config);
    return runAlertCheck({ ...runtime, config: ctx.config, docker: ctx.docker, log: ctx.log, notify: ctx.notify }, args);
  },
});
