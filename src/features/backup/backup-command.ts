import type { BackupResult } from '../../shared/contracts/backup.ts';
import { discover, pick } from './discover.ts';
import { exclusive, type BackupEnv } from './env.ts';
import { copyOffsite } from './offsite.ts';
import { prune } from './retention.ts';
import { runBackup } from './run-backup.ts';

/** `/cdb backup [component…] [--label=x]`: discover, back up, copy off-site, prune. */
export async function backupNow(env: BackupEnv, args: { components?: string[]; label?: string }): Promise<BackupResult> {
  const began = Date.now();
  return exclusive(env, 'the backup', async () => {
    const found = await discover(env.docker, env.project, env.config.backup);
    const components = pick(found.components, args.components);
    env.progress(`Found ${found.components.map((c) => `${c.name} (${c.kind})`).join(', ') || 'nothing'}; backing up ${components.map((c) => c.name).join(', ')}…`);
    const { manifest } = await runBackup({
      docker: env.docker, store: env.store, cfg: env.config.backup, project: env.project, requestId: env.requestId,
      requestedBy: { userId: env.actor.userId, ...(env.actor.name ? { name: env.actor.name } : {}) }, progress: env.progress, signal: env.signal,
    }, components, { kind: 'backup', label: args.label });
    const offsite = env.config.backup.offsite ? await copyOffsite(env, manifest) : undefined;
    const pruned = await prune(env);
    return {
      project: env.project, name: manifest.name, dir: env.store.path(manifest.name),
      discovered: found.components.map((c) => `${c.name} (${c.kind})`),
      artifacts: manifest.artifacts.map((a) => ({ component: a.component, kind: a.kind, target: a.target, bytes: a.bytes, rawBytes: a.rawBytes, sha256: a.sha256, ...(a.counts ? { counts: a.counts } : {}), ms: Date.parse(a.finishedAt) - Date.parse(a.startedAt) })),
      encrypted: Boolean(manifest.recipient), ...(offsite ? { offsite } : {}), pruned,
      totalBytes: manifest.artifacts.reduce((n, a) => n + a.bytes, 0), durationMs: Date.now() - began,
    };
  });
}
