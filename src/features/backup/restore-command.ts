import type { RestorePlan, RestoreResult } from '../../shared/contracts/backup.ts';
import { OpsError } from '../../shared/errors.ts';
import { decrypterFor } from './age-keys.ts';
import { decryptTest } from './artifact.ts';
import { exclusive, type BackupEnv } from './env.ts';
import { buildRestorePlan } from './plan.ts';
import { executeRestore } from './restore.ts';

export async function restorePlan(env: BackupEnv, backup: string, components?: string[]): Promise<RestorePlan> {
  return (await buildRestorePlan(env, backup, components)).plan;
}

/**
 * `/cdb restore` after approval: plan again (every sha256 checked), refuse if it differs from
 * what the approver saw, open the key and decrypt-test every artifact, all before anything stops.
 */
export async function restoreNow(env: BackupEnv, args: { backup: string; components?: string[]; expectPlan?: string }): Promise<RestoreResult> {
  return exclusive(env, 'the restore', async () => {
    const t0 = Date.now();
    env.progress('Checking every artifact’s sha256…');
    const full = await buildRestorePlan(env, args.backup, args.components);
    if (args.expectPlan && full.plan.fingerprint !== args.expectPlan) {
      throw new OpsError('PLAN_CHANGED', `The stack or the backup changed after the request was approved (plan ${args.expectPlan}, now ${full.plan.fingerprint}). Nothing was touched; request the restore again to see the new plan.`);
    }
    // The key for this backup, and for the safety backup (written to backup.recipient), before anything stops.
    const recipients = [...new Set([full.manifest.recipient, env.config.backup.recipient].filter((r): r is string => Boolean(r)))];
    const decrypter = recipients.length ? await decrypterFor(env.config.backup, recipients) : undefined;
    if (decrypter) {
      for (const a of full.components.flatMap((c) => c.artifacts).filter((x) => x.encrypted)) await decryptTest(env.store.path(full.manifest.name, a.file), a, decrypter, full.manifest.name);
    }
    return executeRestore(env, full, decrypter, Date.now() - t0);
  });
}
