import { defineJob } from '../src/worker/define-job.ts';
import { backupArgs, type BackupResult } from '../src/shared/contracts/backup.ts';
import { backupNow } from '../src/features/backup/backup-command.ts';
import { backupEnv } from '../src/features/backup/env.ts';

export default defineJob({
  name: 'backup',
  args: backupArgs,
  // A large database takes a while; the lease, not this limit, guards against two at once.
  timeoutMs: 4 * 3600_000,
  async run(ctx, args): Promise<BackupResult> {
    return backupNow(backupEnv(ctx), args);
  },
});
