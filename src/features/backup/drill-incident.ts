import type { DrillResult } from '../../shared/contracts/backup.ts';
import type { Notice } from '../../shared/contracts/envelope.ts';
import type { BackupEnv } from './env.ts';
import { drillBlocks, drillVerdict } from '../../shared/render/backup-report.ts';

interface OpenIncident {
  readonly id: string;
  readonly openedAt: string;
  readonly failures: number;
}

const blocks = (r: DrillResult) => drillBlocks(r) as unknown as Notice['blocks'];

/**
 * A scheduled drill reports to the alerts channel. A failed one opens an incident (its own thread,
 * reminded on each further failure); the next passing drill resolves it in that thread.
 */
export async function reportScheduledDrill(env: BackupEnv, r: DrillResult): Promise<void> {
  const key = `${env.prefix}:drill:incident:${env.project}`;
  const raw = await env.redis.get(key);
  const open = raw ? (JSON.parse(raw) as OpenIncident) : undefined;
  if (r.ok) {
    await env.notify({ key: `drill:${env.project}`, action: 'root', text: drillVerdict(r), blocks: blocks(r) });
    if (open) {
      await env.notify({ key: `incident:${open.id}`, action: 'thread', text: `Resolved: the scheduled drill passed again (${r.backup}).` });
      await env.notify({ key: `incident:${open.id}`, action: 'update-root', text: `:white_check_mark: Resolved · DR drill of ${env.project} failed ${open.failures}× since ${open.openedAt.slice(0, 16).replace('T', ' ')} UTC; it passes again.` });
      await env.redis.del(key);
    }
    return;
  }
  if (open) {
    await env.notify({ key: `incident:${open.id}`, action: 'thread', text: drillVerdict(r), blocks: blocks(r) });
    await env.redis.set(key, JSON.stringify({ ...open, failures: open.failures + 1 }));
    return;
  }
  const id = `drill-${env.project}-${Date.now().toString(36)}`;
  await env.notify({ key: `incident:${id}`, action: 'root', text: `:rotating_light: Incident · the scheduled DR drill of ${env.project} failed: backups may not be restorable. ${drillVerdict(r)}`, blocks: blocks(r) });
  await env.notify({ key: `incident:${id}`, action: 'thread', text: 'What to do: runbooks/disaster-recovery.md (“A drill failed”). Run `/cdb drill` again after fixing; the next passing scheduled drill resolves this incident.' });
  await env.redis.set(key, JSON.stringify({ id, openedAt: new Date().toISOString(), failures: 1 } satisfies OpenIncident));
}
