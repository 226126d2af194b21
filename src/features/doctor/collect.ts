import { setMaxListeners } from 'node:events';
import type Docker from 'dockerode';
import { RUN_CHECK, type Finding, type Severity } from '../../shared/contracts/doctor.ts';
import { statusFor } from '../../shared/contracts/doctor.ts';
import { OpsError } from '../../shared/errors.ts';
import { mapLimit } from '../../shared/map-limit.ts';
import { composeFilesFromLabels, readCompose } from '../../host/compose/read.ts';
import type { ComposeModel } from '../../host/compose/model.ts';
import { EngineTimeout, engineCall, isNotFound, unavailable } from './engine.ts';
import type { HostFiles } from '../../host/host-files.ts';
import { secretRefs } from './secrets.ts';
import type { ContainerView, DoctorConfig, FileFacts, Need, NetworkView, OtherContainer, Snapshot, VolumeView } from './types.ts';
import { containerView, networkView, otherContainer, volumeView } from './views.ts';

export interface CollectInput {
  readonly docker: Docker;
  readonly project: string;
  readonly doctor: DoctorConfig;
  /** `stack.composeFiles`; empty means "what compose recorded on the containers". */
  readonly composeFiles: readonly string[];
  readonly files: HostFiles;
  readonly needs: ReadonlySet<Need>;
  readonly signal?: AbortSignal;
  readonly previousRestarts?: Readonly<Record<string, number>>;
}

export interface Collected {
  readonly snapshot: Snapshot;
  /** Lines about the run: containers that vanished, calls that timed out, listings that failed. */
  readonly notes: Finding[];
  /** Listings that failed: checks that need them report "not checked" instead of passing. */
  readonly missing: ReadonlyMap<Need, string>;
}

export function runNote(severity: Exclude<Severity, 'info'>, detail: string, name = '', target: Finding['target'] = 'stack'): Finding {
  return { check: RUN_CHECK, status: statusFor(severity), severity, target, name, detail, runbook: 'doctor' };
}

function names(list: readonly string[], max = 8): string {
  return list.length <= max ? list.join(', ') : `${list.slice(0, max).join(', ')} and ${list.length - max} more`;
}

/**
 * Gathers everything the checks read, once: the project's containers (inspected concurrently, at
 * most `doctor.concurrency` at a time), and only the listings the selected checks need. Throws
 * DOCKER_UNAVAILABLE when the first listing fails; any later failure becomes a note.
 */
export async function collectSnapshot(input: CollectInput): Promise<Collected> {
  // One listener on the caller's signal; the many concurrent calls listen on ours.
  const own = new AbortController();
  setMaxListeners(input.doctor.concurrency + 16, own.signal);
  const parent = input.signal;
  const relay = () => own.abort(parent?.reason);
  if (parent?.aborted) relay();
  parent?.addEventListener('abort', relay, { once: true });
  try {
    return await collect(input, own.signal);
  } finally {
    parent?.removeEventListener('abort', relay);
  }
}

async function collect(input: CollectInput, signal: AbortSignal): Promise<Collected> {
  const { docker, project, doctor, needs } = input;
  const timeoutMs = doctor.timeoutSeconds * 1000;
  const call = <T>(what: string, fn: (s: AbortSignal) => Promise<T>) => engineCall(what, timeoutMs, signal, fn);
  const label = [`com.docker.compose.project=${project}`];

  let list: Docker.ContainerInfo[];
  try {
    list = await call('list containers', (s) => docker.listContainers({ all: true, filters: { label }, abortSignal: s }));
  } catch (err) {
    throw unavailable(err, 'list the containers');
  }

  const notes: Finding[] = [];
  const missing = new Map<Need, string>();
  const optional = async <T>(need: Need, what: string, fn: (s: AbortSignal) => Promise<T>, empty: T): Promise<T> => {
    if (!needs.has(need)) return empty;
    try {
      return await call(what, fn);
    } catch (err) {
      const why = err instanceof OpsError ? err.userMessage : (err as Error).message;
      missing.set(need, `could not ${what}: ${why}`);
      return empty;
    }
  };

  const vanished: string[] = [];
  const timedOut: string[] = [];
  const failed: string[] = [];
  const inspected = mapLimit(list, doctor.concurrency, async (info): Promise<ContainerView | undefined> => {
    const name = (info.Names?.[0] ?? info.Id).replace(/^\//, '');
    try {
      return containerView(await call(`inspect ${name}`, (s) => docker.getContainer(info.Id).inspect({ abortSignal: s })));
    } catch (err) {
      if (isNotFound(err)) vanished.push(name);
      else if (err instanceof EngineTimeout) timedOut.push(name);
      else if (signal.aborted) throw err;
      else failed.push(`${name} (${err instanceof OpsError ? err.code : (err as Error).message.slice(0, 80)})`);
      return undefined;
    }
  });

  const [views, others, volumes, networks, images] = await Promise.all([
    inspected,
    optional<OtherContainer[]>('otherContainers', 'list all containers', async (s) => (await docker.listContainers({ all: true, abortSignal: s })).map(otherContainer), []),
    optional<VolumeView[]>('volumes', 'list volumes', async (s) => ((await docker.listVolumes({ filters: { label }, abortSignal: s })).Volumes ?? []).map(volumeView), []),
    optional<NetworkView[]>('networks', 'list networks', async (s) => (await docker.listNetworks({ abortSignal: s })).map(networkView), []),
    optional<Map<string, string>>('images', 'list images', async (s) => {
      const map = new Map<string, string>();
      for (const img of await docker.listImages({ abortSignal: s })) for (const tag of img.RepoTags ?? []) map.set(tag, img.Id);
      return map;
    }, new Map()),
  ]);
  const containers = views.filter((v): v is ContainerView => v !== undefined).sort((a, b) => (a.service ?? '').localeCompare(b.service ?? '') || a.name.localeCompare(b.name));
  const projectIds = new Set(list.map((c) => c.Id));

  for (const name of vanished) notes.push(runNote('low', `${name} disappeared during the run (removed between listing and inspection); it was not checked`, name, 'container'));
  if (timedOut.length) notes.push(runNote('medium', `inspecting ${names(timedOut)} took longer than ${doctor.timeoutSeconds} s; ${timedOut.length === 1 ? 'it was' : 'they were'} not checked`, timedOut.join(','), 'container'));
  if (failed.length) notes.push(runNote('medium', `could not inspect ${names(failed)}; not checked`, '', 'container'));
  if (!list.length) notes.push(runNote('high', `no containers found for compose project ${project}: is the stack up, and is stack.project right?`));

  let compose: ComposeModel | undefined;
  let composeProblem: string | undefined;
  if (needs.has('compose') || needs.has('files')) {
    const paths = input.composeFiles.length ? input.composeFiles : composeFilesFromLabels(containers.map((c) => c.labels));
    const read = await readCompose(input.files, paths, project);
    compose = read.model;
    composeProblem = read.problem;
    if (read.problem && input.composeFiles.length) notes.push(runNote('high', read.problem, paths.join(','), 'file'));
  }

  const files = new Map<string, FileFacts>();
  if (needs.has('files')) {
    const refs = secretRefs(containers, compose);
    const facts = await mapLimit(refs, Math.min(doctor.concurrency, 8), (r) => input.files.stat(r.path));
    refs.forEach((r, i) => files.set(r.path, facts[i] as FileFacts));
  }

  const snapshot: Snapshot = {
    project,
    doctor,
    containers,
    otherContainers: others.filter((c) => !projectIds.has(c.id)),
    volumes,
    networks,
    images,
    compose,
    composeProblem,
    files,
    previousRestarts: input.previousRestarts,
  };
  return { snapshot, notes, missing };
}
