import type Docker from 'dockerode';
import type { Config } from '../../shared/config/schema.ts';
import { composeFilesFromLabels, readCompose } from '../../host/compose/read.ts';
import type { HostFiles } from '../../host/host-files.ts';
import { ROLLBACK_REPO_ROOT } from '../rollback/naming.ts';
import { dockerCall } from '../../host/docker-errors.ts';
import type { CleanItem, CleanPlan } from '../../shared/clean/contract.ts';

const PROJECT = 'com.docker.compose.project';
const SERVICE = 'com.docker.compose.service';
const STOPPED = new Set(['exited', 'created', 'dead']);

/** The parts of `GET /system/df` this reads (dockerode types it as any). */
interface DiskUsage {
  readonly Containers?: { Id: string; Names?: string[]; Image: string; ImageID: string; State: string; Labels?: Record<string, string> | null; SizeRw?: number; Mounts?: { Name?: string; Type?: string }[] }[] | null;
  readonly Images?: { Id: string; RepoTags?: string[] | null; Size: number; SharedSize: number; Labels?: Record<string, string> | null }[] | null;
  readonly Volumes?: { Name: string; Labels?: Record<string, string> | null; UsageData?: { Size: number; RefCount: number } | null }[] | null;
  readonly BuildCache?: { Size: number; InUse: boolean }[] | null;
}

export interface InventoryInput {
  readonly docker: Docker;
  readonly config: Pick<Config, 'stack' | 'clean'>;
  readonly files: HostFiles;
  readonly deep: boolean;
}

const tagsOf = (tags: readonly string[] | null | undefined) => (tags ?? []).filter((t) => t !== '<none>:<none>');
const nameOf = (c: { Id: string; Names?: string[] }) => c.Names?.[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12);

/**
 * What `clean` may remove, read in one `system/df` call. Only objects that carry this project's compose
 * label (or compose's build name for one of its services) are candidates; anything shared with or
 * owned by another project is never listed. Nothing here changes the Engine.
 */
export async function inventory(input: InventoryInput): Promise<CleanPlan> {
  const { docker, config, deep } = input;
  const project = config.stack.project;
  const df = (await dockerCall('read disk usage (system df)', () => docker.df() as Promise<DiskUsage>));
  const containers = df.Containers ?? [];
  const images = df.Images ?? [];
  const notes: string[] = [];
  const items: CleanItem[] = [];

  // 1. Stopped containers of the project whose service compose no longer declares.
  const ours = containers.filter((c) => c.Labels?.[PROJECT] === project);
  const paths = config.stack.composeFiles.length ? config.stack.composeFiles : composeFilesFromLabels(ours.map((c) => c.Labels ?? {}));
  const read = paths.length || ours.length ? await readCompose(input.files, paths, project) : { problem: undefined, model: { services: {} } };
  const removedContainers = new Set<string>();
  if (read.model) {
    const declared = new Set(Object.keys(read.model.services));
    for (const c of ours) {
      const service = c.Labels?.[SERVICE];
      if (!STOPPED.has(c.State) || (service && declared.has(service))) continue;
      removedContainers.add(c.Id);
      items.push({ kind: 'container', id: c.Id, name: nameOf(c), bytes: c.SizeRw ?? 0, why: `stopped (${c.State}); service ${service ?? '(none)'} is no longer declared`, deep: false });
    }
  } else {
    notes.push(`stopped containers were not considered: ${read.problem}`);
  }

  // 2. Dangling images of the project: labelled with it, or left behind by its containers removed above.
  const users = new Map<string, string[]>();
  for (const c of containers) users.set(c.ImageID, [...(users.get(c.ImageID) ?? []), c.Id]);
  const builtNames = new Set([...Object.keys(read.model?.services ?? {}), ...ours.map((c) => c.Labels?.[SERVICE]).filter((s): s is string => Boolean(s))].flatMap((s) => [`${project}-${s}`, `${project}_${s}`]));
  const isOurs = (img: (typeof images)[number]): boolean => {
    if (img.Labels?.[PROJECT]) return img.Labels[PROJECT] === project;
    const tags = tagsOf(img.RepoTags);
    // Every tag must be compose's build name for a service of this project; one foreign tag and it is not ours alone.
    return tags.length > 0 && tags.every((t) => builtNames.has(t.slice(0, t.lastIndexOf(':'))) && !t.startsWith(`${ROLLBACK_REPO_ROOT}/`));
  };
  for (const img of images) {
    const tags = tagsOf(img.RepoTags);
    const usedBy = users.get(img.Id) ?? [];
    const stillUsed = usedBy.some((id) => !removedContainers.has(id));
    if (stillUsed) continue;
    const bytes = Math.max(0, img.Size - Math.max(0, img.SharedSize));
    if (!tags.length) {
      const leftByUs = usedBy.length > 0 && usedBy.every((id) => removedContainers.has(id));
      if (img.Labels?.[PROJECT] === project || leftByUs) {
        items.push({ kind: 'image', id: img.Id, name: `<untagged> ${img.Id.slice(7, 19)}`, bytes, why: leftByUs ? 'dangling, used only by containers removed above' : 'dangling, built for this project', deep: false });
      }
      continue;
    }
    // 3. (--deep) Unused tagged images of the project. Rollback tags are left to rollback.keep.
    if (deep && isOurs(img) && !usedBy.length) {
      items.push({ kind: 'image', id: img.Id, name: tags.join(', '), bytes, why: 'no container uses it', deep: true });
    }
  }

  // 4. (--deep) Volumes of the project no container mounts, except the protected ones.
  const protectedVolumes: string[] = [];
  if (deep) {
    const mounted = new Set(containers.flatMap((c) => (c.Mounts ?? []).map((m) => m.Name).filter((n): n is string => Boolean(n))));
    const protect = new Set(config.clean.protect);
    for (const v of df.Volumes ?? []) {
      if (v.Labels?.[PROJECT] !== project || mounted.has(v.Name) || (v.UsageData?.RefCount ?? 0) > 0) continue;
      if (protect.has(v.Name)) {
        protectedVolumes.push(v.Name);
        continue;
      }
      items.push({ kind: 'volume', id: v.Name, name: v.Name, bytes: Math.max(0, v.UsageData?.Size ?? 0), why: 'no container mounts it; its data is lost', deep: true });
    }
  }

  const order = { container: 0, image: 1, volume: 2 } as const;
  items.sort((a, b) => order[a.kind] - order[b.kind] || a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  const buildCacheBytes = (df.BuildCache ?? []).filter((b) => !b.InUse).reduce((s, b) => s + Math.max(0, b.Size), 0);
  return { project, deep, items, protectedVolumes: protectedVolumes.sort(), buildCacheBytes, notes };
}
