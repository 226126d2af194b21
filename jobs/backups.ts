import { defineJob } from '../src/worker/define-job.ts';
import { backupsArgs, type BackupsResult } from '../src/shared/contracts/backup.ts';
import { backupEnv } from '../src/features/backup/env.ts';

export default defineJob({
  name: 'backups',
  args: backupsArgs,
  async run(ctx, args): Promise<BackupsResult> {
    const env = backupEnv(ctx);
    const { manifests, incomplete } = await env.store.list();
    const backups = await Promise.all(manifests.slice(0, args.limit ?? 20).map((m) => env.store.summary(m)));
    return { project: env.project, dir: env.store.dir, backups, incomplete: incomplete.length };
  },
});
