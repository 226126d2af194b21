import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupManifest } from '../../shared/contracts/backup.ts';
import type { BackupEnv } from './env.ts';
import { pruneOffsite } from './offsite.ts';

const DAY_MS = 86_400_000;

/**
 * Which backups to keep: the newest `keep`, plus the newest of each of the last `keepDays` days
 * (UTC), plus always the newest verified backup, so pruning never deletes the only verified copy.
 * Safety backups (taken before a restore) count like any other.
 */
export function toKeep(manifests: readonly BackupManifest[], keep: number, keepDays: number, now: number): Set<string> {
  const sorted = [...manifests].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const kept = new Set(sorted.slice(0, keep).map((m) => m.name));
  const days = new Set<string>();
  for (const m of sorted) {
    const t = Date.parse(m.createdAt);
    if (now - t > keepDays * DAY_MS) continue;
    const day = m.createdAt.slice(0, 10);
    if (!days.has(day)) {
      days.add(day);
      kept.add(m.name);
    }
  }
  const newestVerified = sorted.find((m) => m.verified && m.kind === 'backup');
  if (newestVerified) kept.add(newestVerified.name);
  return kept;
}

/** Applies retention on the worker host and off-site; removes partial directories older than a day. */
export async function prune(env: BackupEnv): Promise<string[]> {
  const { manifests, incomplete } = await env.store.list();
  const keep = toKeep(manifests, env.config.backup.keep, env.config.backup.keepDays, Date.now());
  const gone = manifests.filter((m) => !keep.has(m.name)).map((m) => m.name);
  for (const name of gone) {
    await env.store.remove(name);
    env.log.info({ backup: name }, 'backup pruned');
  }
  for (const entry of incomplete) {
    const s = await stat(join(env.store.dir, entry)).catch(() => undefined);
    if (s && Date.now() - s.mtimeMs > DAY_MS) await env.store.removeIncomplete(entry);
  }
  await pruneOffsite(env, gone);
  return gone;
}
