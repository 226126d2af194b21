import { createHash } from 'node:crypto';
import { OpsError } from '../../shared/errors.ts';
import type { PlanItem, RollbackManifest, RollbackPlan } from '../../shared/contracts/rollback.ts';
import { dependencyWaves } from './dag.ts';
import { representative, type StackSnapshot } from './snapshot.ts';

export interface PlannedService {
  readonly item: PlanItem;
  /** IDs of the containers to replace (names can change mid-rollback, IDs do not). */
  readonly containerIds: readonly string[];
}

export interface ComputedPlan {
  readonly plan: RollbackPlan;
  readonly services: readonly PlannedService[];
  /** service → services it must wait for. */
  readonly deps: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Dependencies the containers themselves reveal: compose v2's depends_on label and shared network namespaces. */
export function runtimeDependencies(snapshot: StackSnapshot): Map<string, Set<string>> {
  const byId = new Map<string, string>();
  for (const [service, cs] of snapshot.services) for (const c of cs) byId.set(c.id, service);
  const deps = new Map<string, Set<string>>();
  const add = (from: string, to: string) => {
    if (from !== to) deps.set(from, new Set([...(deps.get(from) ?? []), to]));
  };
  for (const [service, cs] of snapshot.services) {
    for (const c of cs) {
      for (const part of (c.labels['com.docker.compose.depends_on'] ?? '').split(',')) {
        const name = part.split(':')[0];
        if (name) add(service, name);
      }
      if (c.networkMode.startsWith('container:')) {
        const ref = c.networkMode.slice('container:'.length);
        const target = byId.get(ref) ?? [...byId.entries()].find(([id]) => id.startsWith(ref))?.[1];
        if (target) add(service, target);
      }
    }
  }
  return deps;
}

function mergeDeps(...maps: ReadonlyArray<ReadonlyMap<string, ReadonlySet<string>>>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const m of maps) for (const [k, v] of m) out.set(k, new Set([...(out.get(k) ?? []), ...v]));
  return out;
}

export interface PlanInput {
  readonly manifest: RollbackManifest;
  readonly requested: string;
  readonly snapshot: StackSnapshot;
  readonly services?: readonly string[];
  readonly composeDeps: ReadonlyMap<string, ReadonlySet<string>>;
  /** Services whose tagged image is gone from the Engine. */
  readonly imageMissing: ReadonlySet<string>;
  readonly overlayPath?: string;
}

/**
 * What a rollback would do, computed from the manifest and what runs now, without touching anything.
 * Asking for a service the tag does not know is refused here, before any change.
 */
export function computePlan(input: PlanInput): ComputedPlan {
  const { manifest, snapshot } = input;
  const known = Object.keys(manifest.services);
  const unknown = (input.services ?? []).filter((s) => !known.includes(s));
  if (unknown.length) {
    throw new OpsError('BAD_ARGUMENTS', `${unknown.map((s) => `\`${s}\``).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not in tag \`${manifest.tag}\`, which has: ${known.map((s) => `\`${s}\``).join(', ')}. Nothing was changed.`);
  }
  const scope = input.services ? [...new Set(input.services)].sort() : known.sort();
  const gone = scope.filter((s) => input.imageMissing.has(s));
  if (gone.length) {
    throw new OpsError('NOT_FOUND', `The image of ${gone.map((s) => `\`${s}\``).join(', ')} in tag \`${manifest.tag}\` is no longer on the Engine (removed by hand?). Roll back the other services by naming them. Nothing was changed.`);
  }
  const services: PlannedService[] = [];
  for (const service of scope) {
    const target = manifest.services[service];
    if (!target) continue;
    const cs = snapshot.services.get(service) ?? [];
    const rep = representative(cs);
    const base = { service, targetImage: target.imageId, targetRef: target.ref, originalRef: target.originalRef, containers: cs.map((c) => c.name) };
    if (!rep) {
      if (input.services) throw new OpsError('NOT_FOUND', `Service \`${service}\` has no container now, so there is nothing to roll back (start it with compose first). Nothing was changed.`);
      services.push({ item: { ...base, action: 'missing', reason: 'no container now' }, containerIds: [] });
      continue;
    }
    const stale = cs.filter((c) => c.imageId !== target.imageId);
    const first = stale[0] ?? rep;
    const current = { currentImage: first.imageId, currentRef: first.imageRef };
    if (!stale.length) services.push({ item: { ...base, ...current, action: 'unchanged' }, containerIds: [] });
    else services.push({ item: { ...base, ...current, action: 'recreate' }, containerIds: stale.map((c) => c.id) });
  }

  // A container sharing a replaced container's network namespace loses its network with it: it follows.
  const replacedIds = services.flatMap((p) => p.containerIds.map((id) => ({ id, service: p.item.service })));
  const leaderOf = (networkMode: string): string | undefined => {
    const ref = networkMode.startsWith('container:') ? networkMode.slice('container:'.length) : '';
    return ref ? replacedIds.find((r) => r.id.startsWith(ref))?.service : undefined;
  };
  for (const [service, cs] of snapshot.services) {
    const at = services.findIndex((p) => p.item.service === service);
    if (at >= 0 && services[at]?.item.action === 'recreate') continue;
    const followers = cs.filter((c) => leaderOf(c.networkMode));
    const f = followers[0];
    if (!f) continue;
    const entry: PlannedService = {
      item: {
        service,
        action: 'recreate',
        reason: `shares the network namespace of ${leaderOf(f.networkMode) ?? '?'}; recreated on its current image`,
        containers: followers.map((c) => c.name),
        currentImage: f.imageId,
        currentRef: f.imageRef,
        targetImage: f.imageId,
        targetRef: f.imageRef,
      },
      containerIds: followers.map((c) => c.id),
    };
    if (at >= 0) services[at] = entry;
    else services.push(entry);
  }

  const deps = mergeDeps(input.composeDeps, runtimeDependencies(snapshot));
  const recreate = services.filter((p) => p.item.action === 'recreate').map((p) => p.item.service);
  const order = dependencyWaves(recreate, deps);
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([manifest.tag, services.map((p) => [p.item.service, p.item.action, p.containerIds, p.item.currentImage ?? '', p.item.targetImage])]))
    .digest('hex')
    .slice(0, 16);
  const items = services.map((p) => p.item).sort((a, b) => a.service.localeCompare(b.service));
  const plan: RollbackPlan = {
    project: snapshot.project,
    tag: manifest.tag,
    requested: input.requested,
    taggedAt: manifest.createdAt,
    taggedBy: manifest.createdBy.name ?? manifest.createdBy.userId,
    items,
    order,
    fingerprint,
    ...(input.overlayPath ? { overlayPath: input.overlayPath } : {}),
  };
  return { plan, services, deps };
}
