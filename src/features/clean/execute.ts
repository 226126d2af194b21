import type Docker from 'dockerode';
import { dockerCall } from '../../host/docker-errors.ts';
import { itemKey, type CleanItem, type CleanOutcome, type CleanPlan, type CleanResult } from '../../shared/clean/contract.ts';

export interface ExecuteInput {
  readonly docker: Docker;
  /** Computed just now: only objects still eligible are touched. */
  readonly plan: CleanPlan;
  /** `--deep`: the keys a second person approved. Eligible objects outside it are left alone. */
  readonly approved?: readonly string[];
  readonly dryRun: boolean;
  readonly pruneBuildCache: boolean;
  readonly signal?: AbortSignal;
  readonly progress?: (text: string) => void;
}

function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

/**
 * One object, never forced: the Engine itself refuses a container that started again, an image a
 * container uses or a volume a container mounts (409), so an object that came into use since the plan
 * was read is skipped rather than removed.
 */
async function removeOne(docker: Docker, item: CleanItem): Promise<CleanOutcome> {
  try {
    if (item.kind === 'container') {
      await dockerCall(`remove container ${item.name}`, () => docker.getContainer(item.id).remove({ v: false, force: false }));
    } else if (item.kind === 'volume') {
      await dockerCall(`remove volume ${item.name}`, () => docker.getVolume(item.id).remove());
    } else {
      // Untag this project's names one by one (deleting by id would need force with several tags);
      // the last one deletes the image. A dangling image goes by id.
      const tags = item.name.startsWith('<untagged>') ? [] : item.name.split(', ');
      for (const tag of tags) await dockerCall(`untag ${tag}`, () => docker.getImage(tag).remove({ force: false, noprune: false }));
      const left = await docker.getImage(item.id).inspect().then(() => true, (err: unknown) => (statusCode(err) === 404 ? false : Promise.reject(err)));
      if (left) await dockerCall(`remove image ${item.id.slice(7, 19)}`, () => docker.getImage(item.id).remove({ force: false, noprune: false }));
    }
    return { ...item, status: 'removed' };
  } catch (err) {
    const code = statusCode(err);
    if (code === 404) return { ...item, status: 'skipped', detail: 'already gone', bytes: 0 };
    if (code === 409) return { ...item, status: 'skipped', detail: 'in use again, the Engine refused', bytes: 0 };
    return { ...item, status: 'skipped', detail: err instanceof Error ? err.message.split('\n')[0]!.slice(0, 200) : String(err), bytes: 0 };
  }
}

export async function executeClean(input: ExecuteInput): Promise<CleanResult> {
  const { plan } = input;
  const approved = input.approved ? new Set(input.approved) : undefined;
  const chosen = approved ? plan.items.filter((i) => approved.has(itemKey(i))) : plan.items;
  const notApproved = approved ? plan.items.filter((i) => !approved.has(itemKey(i))) : [];
  // Approved objects that are no longer eligible (gone, or in use now): reported, not touched.
  const current = new Set(plan.items.map(itemKey));
  const vanished = [...(approved ?? [])].filter((k) => !current.has(k));
  const notes = [...plan.notes];
  if (vanished.length) notes.push(`${vanished.length} approved object(s) are gone or in use now and were left alone: ${vanished.slice(0, 10).join(', ')}${vanished.length > 10 ? ', …' : ''}`);

  const items: CleanOutcome[] = [];
  if (input.dryRun) {
    items.push(...chosen.map((i) => ({ ...i, status: 'planned' as const })));
  } else {
    for (const [n, item] of chosen.entries()) {
      input.signal?.throwIfAborted();
      input.progress?.(`Removing ${n + 1}/${chosen.length}: ${item.kind} ${item.name}`);
      items.push(await removeOne(input.docker, item));
    }
  }
  let buildCache = { bytes: plan.buildCacheBytes, pruned: false, reclaimedBytes: 0 };
  if (input.pruneBuildCache && !input.dryRun && plan.buildCacheBytes > 0) {
    const res = await dockerCall('prune the build cache', () => input.docker.pruneBuilder());
    buildCache = { bytes: plan.buildCacheBytes, pruned: true, reclaimedBytes: res.SpaceReclaimed ?? 0 };
  }
  const reclaimedBytes = items.filter((i) => i.status === 'removed').reduce((s, i) => s + i.bytes, 0);
  return { project: plan.project, deep: plan.deep, dryRun: input.dryRun, items, notApproved, protectedVolumes: plan.protectedVolumes, reclaimedBytes, buildCache, notes };
}
