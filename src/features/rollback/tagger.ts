import { OpsError } from '../../shared/errors.ts';
import type { ManifestService, RollbackManifest, TagKind } from '../../shared/contracts/rollback.ts';
import { dockerCall } from '../../host/docker-errors.ts';
import { mapLimit } from '../../shared/map-limit.ts';
import type { RollbackEnv } from './env.ts';
import { newTagName, rollbackRef, rollbackRepo, tagOfRef } from './naming.ts';
import { representative, takeSnapshot, type StackSnapshot } from './snapshot.ts';
import { readPins } from './overlay.ts';

function statusCode(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown }).statusCode;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Tags every service's current image as <kind>-YYYYMMDD-HHMMSS[-label] and stores the manifest.
 * Tagging only adds references: it cannot change what runs.
 */
export async function createTag(env: RollbackEnv, kind: TagKind, label?: string, snap?: StackSnapshot): Promise<{ manifest: RollbackManifest; file: string }> {
  const now = new Date();
  let tag = newTagName(kind, now, label);
  // An undo point must never block a rollback: a second one within the same second gets a counter.
  for (let n = 2; kind === 'pre-rollback' && !label && n < 10 && (await env.store.exists(tag)); n++) tag = newTagName(kind, now, String(n));
  if (await env.store.exists(tag)) {
    throw new OpsError('TAG_EXISTS', `A tag named \`${tag}\` exists already (tags have one-second resolution). Try again in a second.`);
  }
  const snapshot = snap ?? (await takeSnapshot(env.docker, env.project));
  if (!snapshot.services.size) {
    throw new OpsError('NOT_FOUND', `No containers found for compose project \`${env.project}\`: nothing to tag. Is the stack up, and is \`stack.project\` right?`);
  }
  const entries = await mapLimit([...snapshot.services.entries()], 8, async ([service, containers]): Promise<[string, ManifestService]> => {
    const rep = representative(containers);
    if (!rep) throw new Error(`service ${service} has no container`);
    const info = await dockerCall('inspect a container', () => env.docker.getContainer(rep.id).inspect());
    const ref = rollbackRef(env.project, service, tag);
    const [repo, tagPart] = [rollbackRepo(env.project, service), tag];
    await dockerCall('tag an image', () => env.docker.getImage(info.Image).tag({ repo, tag: tagPart }));
    const configHash = rep.labels['com.docker.compose.config-hash'];
    return [service, { imageId: info.Image, ref, originalRef: info.Config.Image, ...(configHash ? { configHash } : {}), containers: containers.length }];
  });
  const manifest: RollbackManifest = {
    version: 1,
    tag,
    kind,
    ...(label ? { label } : {}),
    project: env.project,
    createdAt: new Date().toISOString(),
    createdBy: { userId: env.actor.userId, ...(env.actor.name ? { name: env.actor.name } : {}) },
    requestId: env.requestId,
    services: Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b))),
  };
  const file = await env.store.save(manifest);
  env.log.info({ tag, services: entries.length }, 'rollback tag created');
  return { manifest, file };
}

/** Tags that must survive pruning: pinned by the overlay, or the image reference of a live container. */
export async function protectedTags(env: RollbackEnv, snapshot: StackSnapshot): Promise<Set<string>> {
  const keep = new Set<string>();
  for (const ref of Object.values(await readPins(env).catch(() => ({})))) {
    const t = tagOfRef(ref);
    if (t) keep.add(t);
  }
  const ids = [...snapshot.services.values()].flat().map((c) => c.id);
  await mapLimit(ids, 8, async (id) => {
    const info = await env.docker.getContainer(id).inspect().catch(() => undefined);
    const t = info ? tagOfRef(info.Config.Image) : undefined;
    if (t) keep.add(t);
  });
  return keep;
}

/**
 * Keeps the newest `rollback.keep` manifests (plus protected ones) and removes the image tags of
 * the rest: only the tags those manifests list (`cdb-rollback/<project>/<service>:<tag>`), never
 * "whatever else is under the project's namespace", which may be another deployment's (same
 * Engine and project name, other Redis or manifest directory). Every untag is logged. When the
 * manifest store cannot be read, or looks empty, nothing is pruned. Removal is never forced: an
 * image goes only when that leaves it untagged and unused; a manifest goes once all its tags have.
 */
export async function prune(env: RollbackEnv, alsoKeep: ReadonlySet<string>): Promise<string[]> {
  let manifests: RollbackManifest[];
  try {
    manifests = await env.store.list({ strict: true });
  } catch (err) {
    env.log.warn({ err, project: env.project }, 'manifest store unreadable: no rollback tag pruned');
    return [];
  }
  if (!manifests.length) {
    env.log.warn({ project: env.project }, 'no manifests found (a lost store?): no rollback tag pruned');
    return [];
  }
  const keep = new Set([...manifests.slice(0, env.config.rollback.keep).map((m) => m.tag), ...alsoKeep]);
  const pruned: string[] = [];
  for (const m of manifests) {
    if (keep.has(m.tag) || m.project !== env.project) continue;
    let kept = false;
    for (const [service, s] of Object.entries(m.services)) {
      const ref = rollbackRef(env.project, service, m.tag);
      if (s.ref !== ref) {
        env.log.warn({ tag: m.tag, service, ref: s.ref }, 'manifest names a tag outside this project’s namespace: left alone');
        continue;
      }
      try {
        await dockerCall('remove a rollback tag', () => env.docker.getImage(ref).remove({ force: false, noprune: false }));
        env.log.info({ ref, tag: m.tag, service }, 'rollback tag removed');
      } catch (err) {
        const status = statusCode(err);
        if (status === 404) {
          env.log.info({ ref, tag: m.tag, service }, 'rollback tag already gone');
        } else if (status === 409) {
          // The last reference of an image a container still uses: it goes on a later prune.
          kept = true;
          env.log.info({ ref, tag: m.tag, service }, 'rollback tag kept for now: its image is in use');
        } else {
          throw err;
        }
      }
    }
    if (kept) continue;
    await env.store.delete(m.tag);
    pruned.push(m.tag);
  }
  if (pruned.length) env.log.info({ pruned }, 'rollback tags pruned');
  return pruned;
}
