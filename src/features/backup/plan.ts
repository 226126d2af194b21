import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { ArtifactEntry, BackupManifest, RestorePlan, RestorePlanItem } from '../../shared/contracts/backup.ts';
import { OpsError } from '../../shared/errors.ts';
import { readComposeFacts } from '../rollback/compose-files.ts';
import { hostFilesFor } from '../../host/host-files.ts';
import { checkStored } from './artifact.ts';
import { discover, type Component } from './discover.ts';
import type { BackupEnv } from './env.ts';

/** A plan item with what the run needs and the approver does not see. */
export interface PlannedComponent {
  readonly item: RestorePlanItem;
  readonly artifacts: readonly ArtifactEntry[];
  readonly current: Component;
}

export interface FullPlan {
  readonly plan: RestorePlan;
  readonly manifest: BackupManifest;
  readonly components: readonly PlannedComponent[];
  /** Containers to stop (dependents, and Redis itself), by id, with their service. */
  readonly stop: ReadonlyArray<{ id: string; service: string }>;
}

/** service → the services that need it, transitively (compose depends_on reversed, plus `backup.dependents`). */
export function dependentsOf(service: string, dependsOn: ReadonlyMap<string, ReadonlySet<string>>, extra: Readonly<Record<string, readonly string[]>>): string[] {
  const out = new Set<string>();
  const visit = (s: string) => {
    const next = [...[...dependsOn].filter(([, deps]) => deps.has(s)).map(([svc]) => svc), ...(extra[s] ?? [])];
    for (const n of next) {
      if (out.has(n)) continue;
      out.add(n);
      visit(n);
    }
  };
  visit(service);
  out.delete(service);
  return [...out].sort();
}

/**
 * What `/cdb restore` would do, read-only: the backup (latest resolved), its artifacts' sha256
 * checked, the components it replaces mapped onto today's containers, and the services stopped
 * meanwhile. The fingerprint pins all of it: backup, checksums, containers.
 */
export async function buildRestorePlan(env: BackupEnv, target: string, asked: readonly string[] | undefined): Promise<FullPlan> {
  const manifest = await env.store.resolve(target);
  const inBackup = [...new Set(manifest.artifacts.map((a) => a.component))];
  const unknown = (asked ?? []).filter((a) => !inBackup.includes(a));
  if (unknown.length) throw new OpsError('NOT_FOUND', `Backup ${manifest.name} has no component ${unknown.map((u) => `\`${u}\``).join(', ')}. It has: ${inBackup.map((c) => `\`${c}\``).join(', ')}.`);
  const chosen = asked?.length ? inBackup.filter((c) => asked.includes(c)) : inBackup;
  // Verified before the approver even sees the request: a corrupted backup is never offered.
  for (const a of manifest.artifacts.filter((x) => chosen.includes(x.component))) await checkStored(env.store.path(manifest.name, a.file), a, manifest.name);

  const found = await discover(env.docker, env.project, { ...env.config.backup, services: undefined, volumes: undefined, exclude: [] });
  const files = hostFilesFor(env.config, 'inspect');
  const facts = await readComposeFacts(files, env.config.stack.composeFiles).finally(() => files.close().catch(() => undefined));
  const containers = await env.docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${env.project}`] } });
  const running = (service: string) => containers.filter((c) => c.Labels['com.docker.compose.service'] === service && c.State === 'running');

  const components: PlannedComponent[] = [];
  const stop = new Map<string, string>();
  for (const name of chosen) {
    const artifacts = manifest.artifacts.filter((a) => a.component === name);
    const first = artifacts[0] as ArtifactEntry;
    const current = first.kind === 'volume' ? found.components.find((c) => c.kind === 'volume' && c.volume === first.target) : found.components.find((c) => c.kind !== 'volume' && c.service === first.service);
    if (!current) {
      const what = first.kind === 'volume' ? `volume \`${first.target}\` does not exist` : `no running container of service \`${first.service ?? name}\` runs ${first.kind}`;
      throw new OpsError('NOT_FOUND', `Cannot restore \`${name}\`: ${what}. Start the stack (or recreate the volume) first; restore replaces data, it does not create services.`);
    }
    if (current.kind !== first.kind) throw new OpsError('BACKUP_INVALID', `Component \`${name}\` is ${first.kind} in the backup but ${current.kind} now. Nothing was touched.`);
    let dependents: string[];
    if (current.kind === 'volume') dependents = [...new Set(current.users.map((u) => u.service))].sort();
    else dependents = dependentsOf(current.service, facts.dependsOn, env.config.backup.dependents);
    for (const svc of dependents) for (const c of running(svc)) stop.set(c.Id, svc);
    // Redis is replaced with the server stopped.
    if (current.kind === 'redis') stop.set(current.containerId, current.service);
    components.push({
      current, artifacts,
      item: {
        component: name, kind: first.kind, targets: artifacts.map((a) => a.target), ...(current.kind !== 'volume' ? { container: current.containerName, service: current.service } : {}),
        dependents, bytes: artifacts.reduce((n, a) => n + a.bytes, 0),
      },
    });
  }
  // A database being restored is never stopped as another one's dependent (it must stay up to receive the data).
  for (const pc of components) if (pc.current.kind === 'postgres' || pc.current.kind === 'mariadb') stop.delete(pc.current.containerId);
  const stopList = [...stop.entries()].map(([id, service]) => ({ id, service })).sort((a, b) => a.service.localeCompare(b.service) || a.id.localeCompare(b.id));
  const fingerprint = createHash('sha256')
    .update(JSON.stringify({ b: manifest.name, a: manifest.artifacts.filter((a) => chosen.includes(a.component)).map((a) => a.sha256), c: components.map((p) => [p.item, p.current.kind === 'volume' ? p.current.volume : p.current.containerId]), s: stopList }))
    .digest('hex')
    .slice(0, 16);
  const plan: RestorePlan = {
    project: env.project, backup: manifest.name, requested: target, backupCreatedAt: manifest.createdAt, ageMs: Date.now() - Date.parse(manifest.createdAt),
    encrypted: Boolean(manifest.recipient), checksums: 'ok', items: components.map((c) => c.item), stops: [...new Set(stopList.map((s) => s.service))].sort(), fingerprint,
  };
  return { plan, manifest, components, stop: stopList };
}

export function artifactPath(env: BackupEnv, m: BackupManifest, a: ArtifactEntry): string {
  return join(env.store.dir, m.name, a.file);
}

