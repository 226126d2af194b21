import type { Readable } from 'node:stream';
import type { Decrypter } from 'age-encryption';
import type Docker from 'dockerode';
import type { ArtifactEntry, BackupManifest, ComponentTiming, RestoreResult } from '../../shared/contracts/backup.ts';
import { OpsError } from '../../shared/errors.ts';
import { waitReady } from '../rollback/health.ts';
import { mariadbReplace, pgDropOld, pgRestoreSide, pgSwapBack, pgSwapIn, redisReplace, startContainer, stopContainer, volumeReplace } from './apply.ts';
import { openArtifact } from './artifact.ts';
import { databases, type Component, type DbComponent } from './discover.ts';
import type { BackupEnv } from './env.ts';
import { failpoint, JournalStore, journalKey, type RestoreJournal } from './journal.ts';
import type { FullPlan } from './plan.ts';
import { helperImage, runBackup } from './run-backup.ts';

export interface JournalItem {
  readonly component: string;
  readonly kind: Component['kind'];
  readonly service?: string;
  readonly volume?: string;
  readonly targets: readonly string[];
}

export type FullJournal = RestoreJournal & { items: JournalItem[] };

export function journalFor(env: BackupEnv): JournalStore {
  return new JournalStore(env.redis, journalKey(env.prefix, env.project));
}

/** The component as it is now, whatever state its container is in (a killed restore may have left it stopped). */
export async function componentNow(docker: Docker, project: string, item: JournalItem): Promise<Component | undefined> {
  if (item.kind === 'volume') {
    const v = item.volume as string;
    const users = await docker.listContainers({ all: true, filters: { volume: [v] } });
    return { name: item.component, kind: 'volume', volume: v, users: users.map((u) => ({ id: u.Id, service: u.Labels['com.docker.compose.service'] ?? '', image: u.ImageID })) };
  }
  const list = await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${item.service ?? ''}`] } });
  const c = list.find((x) => x.State === 'running') ?? list[0];
  if (!c) return undefined;
  const info = await docker.getContainer(c.Id).inspect();
  return { name: item.component, kind: item.kind, service: item.service ?? '', containerId: c.Id, containerName: info.Name.replace(/^\//, ''), image: info.Config.Image, imageId: info.Image, env: info.Config.Env ?? [], volumes: [] } as DbComponent;
}

async function applyOne(env: BackupEnv, c: Component, artifacts: readonly ArtifactEntry[], m: BackupManifest, decrypter: Decrypter | undefined, swap: boolean, steps: Record<string, number> = {}): Promise<string> {
  const open = (a: ArtifactEntry) => (): Promise<Readable> => openArtifact(env.store.path(m.name, a.file), a, decrypter);
  const healthMs = env.config.backup.healthTimeoutSeconds * 1000;
  const notes: string[] = [];
  for (const a of artifacts) {
    if (c.kind === 'postgres') {
      notes.push(`${a.target}: ${await pgRestoreSide(env.docker, c, a, open(a), steps)}`);
      if (swap) {
        await pgSwapIn(env.docker, c, a.target);
        await failpoint('restore:after-swap');
      }
    } else if (c.kind === 'mariadb') notes.push(`${a.target}: ${await mariadbReplace(env.docker, c, a, open(a))}`);
    else if (c.kind === 'redis') notes.push(await redisReplace(env.docker, c, a, open(a), healthMs));
    else if (c.kind === 'volume') notes.push(await volumeReplace(env.docker, env.project, c, a, await helperImage(env.docker, env.project, c), open(a)));
  }
  return notes.join('; ');
}

/** Starts what the restore stopped and waits until each is healthy (or running, without a healthcheck). */
async function startStopped(env: BackupEnv, stopped: ReadonlyArray<{ id: string; service: string }>): Promise<string[]> {
  const problems: string[] = [];
  await Promise.all(stopped.map(async (s) => {
    try {
      await startContainer(env.docker, s.id);
      const r = await waitReady(env.docker, s.id, env.config.backup.healthTimeoutSeconds * 1000);
      if (!r.ok) problems.push(`${s.service}: ${r.detail}`);
    } catch (err) {
      problems.push(`${s.service}: ${(err as Error).message.slice(0, 160)}`);
    }
  }));
  return problems;
}

/**
 * Undo, from whatever point a restore reached: databases swapped back (or the half-restored copy
 * dropped), Redis and volumes refilled from the safety backup, stopped services started.
 */
export async function revertRestore(env: BackupEnv, j: FullJournal, decrypter: Decrypter | undefined): Promise<{ ok: boolean; detail: string }> {
  const problems: string[] = [];
  const safety = j.safety ? await env.store.manifest(j.safety).catch(() => undefined) : undefined;
  for (const item of [...j.items].reverse()) {
    const state = j.components[item.component] ?? 'pending';
    try {
      const c = await componentNow(env.docker, env.project, item);
      if (!c) throw new Error('its container is gone');
      if (c.kind === 'postgres') {
        if (c.containerId) await startContainer(env.docker, c.containerId);
        for (const db of item.targets) await pgSwapBack(env.docker, c, db);
        continue;
      }
      if (state === 'pending') continue;
      const arts = safety?.artifacts.filter((a) => a.component === item.component) ?? [];
      if (!arts.length) throw new Error('no safety backup of it');
      await applyOne(env, c, arts, safety as BackupManifest, decrypter, false);
    } catch (err) {
      problems.push(`${item.component}: ${(err as Error).message.slice(0, 200)}`);
    }
  }
  problems.push(...(await startStopped(env, j.stopped)));
  return { ok: problems.length === 0, detail: problems.join('; ') };
}

/** After everything was restored and verified: start what was stopped, drop the replaced databases. */
export async function finishRestore(env: BackupEnv, j: FullJournal): Promise<string[]> {
  const problems = await startStopped(env, j.stopped);
  for (const item of j.items.filter((i) => i.kind === 'postgres')) {
    const c = await componentNow(env.docker, env.project, item);
    if (c && c.kind === 'postgres') for (const db of item.targets) await pgDropOld(env.docker, c, db).catch((err: Error) => problems.push(`${db}: ${err.message.slice(0, 120)}`));
  }
  return problems;
}

/** Runs an approved, planned, verified restore. Every step is journaled first (see journal.ts). */
export async function executeRestore(env: BackupEnv, full: FullPlan, decrypter: Decrypter | undefined, verifyMs: number): Promise<RestoreResult> {
  const began = Date.now() - verifyMs;
  const journal = journalFor(env);
  const j: FullJournal = {
    version: 1, requestId: env.requestId, ...(env.origin ? { origin: env.origin } : {}), ...(env.approval ? { approvalId: env.approval.id } : {}), actor: env.actor,
    project: env.project, backup: full.manifest.name, phase: 'safety', stopped: [],
    components: Object.fromEntries(full.components.map((c) => [c.item.component, 'pending'])),
    items: full.components.map((c) => ({ component: c.item.component, kind: c.item.kind, ...(c.current.kind === 'volume' ? { volume: c.current.volume } : { service: c.current.service }), targets: c.item.targets })),
    startedAt: new Date().toISOString(),
  };
  await journal.write(j);
  const timings: ComponentTiming[] = [];
  // The safety backup: what will be overwritten, as it is now (databases the backup does not hold are left alone).
  env.progress('Taking a safety backup of what will be replaced…');
  let safetyName: string | undefined;
  try {
    const only = new Map<string, string[]>();
    for (const pc of full.components) {
      if (pc.current.kind === 'postgres' || pc.current.kind === 'mariadb') {
        const now = await databases(env.docker, pc.current);
        only.set(pc.item.component, pc.item.targets.filter((t) => now.includes(t)));
      }
    }
    const comps = full.components.map((c) => c.current).filter((c) => (c.kind !== 'postgres' && c.kind !== 'mariadb') || (only.get(c.name)?.length ?? 0) > 0);
    if (comps.length) {
      const { manifest } = await runBackup({ docker: env.docker, store: env.store, cfg: env.config.backup, project: env.project, requestId: env.requestId, requestedBy: { userId: env.actor.userId }, progress: env.progress, signal: env.signal }, comps, { kind: 'safety', label: 'pre-restore', only });
      safetyName = manifest.name;
      j.safety = safetyName;
    }
  } catch (err) {
    await journal.clear();
    throw new OpsError('BACKUP_FAILED', `The safety backup failed, so nothing was touched: ${(err as OpsError).userMessage ?? (err as Error).message}`.slice(0, 600), { cause: err });
  }
  const recoveryStart = Date.now();
  let failure: string | undefined;
  try {
    j.phase = 'stopping';
    j.stopped = [...full.stop];
    await journal.write(j);
    env.progress(`Stopping ${full.plan.stops.join(', ') || 'nothing'}…`);
    await Promise.all(full.stop.map((s) => stopContainer(env.docker, s.id)));
    j.phase = 'restoring';
    for (const pc of full.components) {
      const t0 = Date.now();
      j.components[pc.item.component] = 'restoring';
      await journal.write(j);
      await failpoint('restore:mid');
      env.progress(`Restoring ${pc.item.component} (${pc.item.kind})…`);
      const steps: Record<string, number> = {};
      const detail = await applyOne(env, pc.current, pc.artifacts, full.manifest, decrypter, true, steps);
      j.components[pc.item.component] = 'restored';
      await journal.write(j);
      timings.push({ component: pc.item.component, kind: pc.item.kind, ok: true, ms: Date.now() - t0, detail, ...(Object.keys(steps).length ? { steps } : {}) });
    }
    j.phase = 'starting';
    await journal.write(j);
    env.progress('Starting the stopped services and waiting for health…');
    const problems = await startStopped(env, j.stopped);
    if (problems.length) throw new Error(`not healthy after the restore: ${problems.join('; ')}`);
    j.phase = 'verified';
    await journal.write(j);
    const left = await finishRestore(env, j);
    await journal.clear();
    return { project: env.project, backup: full.manifest.name, ok: true, outcome: 'restored', safetyBackup: safetyName, verifyMs, components: timings, stopped: full.plan.stops, ...(left.length ? { error: `cleanup: ${left.join('; ')}` } : {}), recoveryMs: Date.now() - recoveryStart, totalMs: Date.now() - began };
  } catch (err) {
    failure = (err as OpsError).userMessage ?? (err as Error).message;
    env.log.error({ err }, 'restore failed; reverting');
    const current = full.components.find((c) => j.components[c.item.component] === 'restoring');
    if (current) timings.push({ component: current.item.component, kind: current.item.kind, ok: false, ms: 0, detail: failure.slice(0, 200) });
    j.phase = 'reverting';
    await journal.write(j);
    env.progress('The restore failed: putting the safety backup back…');
    const undo = await revertRestore(env, j, decrypter);
    await journal.clear();
    return {
      project: env.project, backup: full.manifest.name, ok: false, outcome: undo.ok ? 'reverted' : 'revert-failed', safetyBackup: safetyName, verifyMs, components: timings,
      stopped: full.plan.stops, error: `${failure.slice(0, 300)}${undo.ok ? '' : ` — revert problems: ${undo.detail}`}`, recoveryMs: Date.now() - recoveryStart, totalMs: Date.now() - began,
    };
  }
}

