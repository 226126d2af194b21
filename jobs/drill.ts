import { defineJob } from '../src/worker/define-job.ts';
import { drillArgs, type DrillResult } from '../src/shared/contracts/backup.ts';
import { backupEnv } from '../src/features/backup/env.ts';
import { runDrill } from '../src/features/backup/drill.ts';
import { isScheduledDrill } from '../src/features/backup/drill-schedule.ts';
import { reportScheduledDrill } from '../src/features/backup/drill-incident.ts';
import { isOpsError } from '../src/shared/errors.ts';

export default defineJob({
  name: 'drill',
  args: drillArgs,
  timeoutMs: 4 * 3600_000,
  async run(ctx, args): Promise<DrillResult> {
    const env = backupEnv(ctx);
    if (!isScheduledDrill(ctx)) return runDrill(env, args.backup ?? 'latest');
    // Scheduled: a drill that cannot even start (no backup, bad key) is a failed drill too.
    let result: DrillResult;
    try {
      result = { ...(await runDrill(env, 'latest')), scheduled: true };
    } catch (err) {
      const message = isOpsError(err) ? err.userMessage : (err as Error).message;
      result = { project: env.project, backup: '(none)', ok: false, backupAgeMs: 0, restoreMs: 0, totalMs: 0, checks: [], scratchProject: '-', cleanedUp: { containers: 0, volumes: 0, networks: 0, ok: true }, error: message.slice(0, 300), scheduled: true };
    }
    await reportScheduledDrill(env, result);
    return result;
  },
});
