import { defineJob } from '../src/worker/define-job.ts';
import { restoreArgs, type RestoreResult } from '../src/shared/contracts/backup.ts';
import { OpsError } from '../src/shared/errors.ts';
import { backupEnv } from '../src/features/backup/env.ts';
import { restoreNow } from '../src/features/backup/restore-command.ts';

/** Runs only after approval (the `restore` command has `approval: true`). */
export default defineJob({
  name: 'restore',
  journaled: true,
  args: restoreArgs,
  timeoutMs: 4 * 3600_000,
  async run(ctx, args): Promise<RestoreResult> {
    // The gate admits this job only with an approved request; refuse plainly if it somehow did not.
    if (!ctx.approval) throw new OpsError('APPROVAL_REQUIRED', 'A restore runs only after a second person approved it in Slack.');
    return restoreNow(backupEnv(ctx), args);
  },
});
