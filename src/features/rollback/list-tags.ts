import type { RollbackManifest, TagSummary, TagsResult } from '../../shared/contracts/rollback.ts';
import type { RollbackEnv } from './env.ts';
import { tagOfRef } from './naming.ts';
import { readPins } from './overlay.ts';
import { takeSnapshot, type StackSnapshot } from './snapshot.ts';

/** How a manifest compares with what runs now. */
export function summarizeTag(m: RollbackManifest, snapshot: StackSnapshot, pinnedTags: ReadonlySet<string>): TagSummary {
  const differs: string[] = [];
  const missing: string[] = [];
  for (const [service, s] of Object.entries(m.services)) {
    const cs = snapshot.services.get(service) ?? [];
    if (!cs.length) missing.push(service);
    else if (cs.some((c) => c.imageId !== s.imageId)) differs.push(service);
  }
  return {
    tag: m.tag,
    kind: m.kind,
    ...(m.label ? { label: m.label } : {}),
    createdAt: m.createdAt,
    createdBy: m.createdBy.name ?? m.createdBy.userId,
    services: Object.keys(m.services).length,
    differs: differs.sort(),
    missing: missing.sort(),
    pinned: pinnedTags.has(m.tag),
  };
}

export async function listTags(env: RollbackEnv, limit = 20): Promise<TagsResult> {
  const [manifests, snapshot, pins] = await Promise.all([
    env.store.list(),
    takeSnapshot(env.docker, env.project),
    readPins(env).catch((err: unknown) => {
      env.log.warn({ err }, 'overlay not readable');
      return {};
    }),
  ]);
  const pinnedTags = new Set(Object.values(pins).map(tagOfRef).filter((t): t is string => Boolean(t)));
  const pinsByService = Object.fromEntries(Object.entries(pins).map(([s, ref]) => [s, tagOfRef(ref) ?? ref]));
  return {
    project: env.project,
    keep: env.config.rollback.keep,
    tags: manifests.slice(0, limit).map((m) => summarizeTag(m, snapshot, pinnedTags)),
    pins: pinsByService,
    ...(env.overlayPath ? { overlayPath: env.overlayPath } : {}),
  };
}
