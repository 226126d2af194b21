import { defineJob } from '../src/worker/define-job.ts';
import { restorePlanArgs, type RestorePlan } from '../src/shared/contracts/backup.ts';
import { backupEnv } from '../src/features/backup/env.ts';
import { restorePlan } from '../src/features/backup/restore-command.ts';

/**
 * Read-only: what `/cdb restore <backup> [component…]` would replace, for the approval request.
 * Checks every artifact's sha256 first, so a corrupted backup is refused before anyone approves.
 */
export default defineJob({
  name: 'restore-plan',
  args: restorePlanArgs,
  timeoutMs: 30 * 60_000,
  async run(ctx, args): Promise<RestorePlan> {
    return restorePlan(backupEnv(ctx), args.backup, args.components);
  },
});
