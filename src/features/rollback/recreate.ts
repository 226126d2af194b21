import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { buildCreateSpec, type CreateSpec, type ImageDefaults, type OldContainer } from './container-spec.ts';
import { shortId } from './naming.ts';
import { PARKED_MARK } from './snapshot.ts';

/**
 * One container being replaced. Every step is recorded, so that an undo reverses exactly
 * the steps that happened, whatever step failed.
 */
export interface Swap {
  readonly service: string;
  readonly oldId: string;
  readonly name: string;
  readonly old: OldContainer;
  readonly oldImage: ImageDefaults;
  readonly restartPolicy?: Docker.HostConfig['RestartPolicy'];
  readonly wasRunning: boolean;
  /** The replacement's temporary name, chosen (and journaled) before it is created. */
  newName?: string;
  newId?: string;
  stopped?: boolean;
  policyChanged?: boolean;
  parked?: boolean;
  newNamed?: boolean;
}

function statusCode(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown }).statusCode;
  return typeof code === 'number' ? code : undefined;
}

async function ignoring<T>(codes: number[], call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (err) {
    if (codes.includes(statusCode(err) ?? 0)) return undefined;
    throw err;
  }
}

export async function loadSwap(docker: Docker, service: string, containerId: string): Promise<Swap> {
  const info = await docker.getContainer(containerId).inspect();
  const image = await docker.getImage(info.Image).inspect().catch(() => ({ Config: null }));
  const old = info as unknown as OldContainer;
  return {
    service,
    oldId: info.Id,
    name: info.Name.replace(/^\//, ''),
    old,
    oldImage: image as unknown as ImageDefaults,
    restartPolicy: info.HostConfig.RestartPolicy,
    wasRunning: info.State.Running,
  };
}

export function specFor(swap: Swap, image: string, tag: string, idMap: ReadonlyMap<string, string>): CreateSpec {
  return buildCreateSpec(swap.old, swap.oldImage, { image, idMap, extraLabels: { 'cdb.rollback.tag': tag } });
}

async function createFrom(docker: Docker, spec: CreateSpec, name: string): Promise<string> {
  const created = await docker.createContainer({ ...spec.options, name });
  try {
    for (const net of spec.extraNetworks) {
      await docker.getNetwork(net.name).connect({ Container: created.id, EndpointConfig: net.endpoint });
    }
  } catch (err) {
    await created.remove({ force: true, v: false }).catch(() => undefined);
    throw err;
  }
  return created.id;
}

/** Containers being created by a rollback carry this in their name until they take the real one. */
export const NEW_MARK = '_cdb-new-';

export function replacementName(swap: Pick<Swap, 'name'>): string {
  return `${swap.name}${NEW_MARK}${randomBytes(3).toString('hex')}`;
}

export function parkedName(swap: Pick<Swap, 'name' | 'oldId'>): string {
  return `${swap.name}${PARKED_MARK}-${shortId(swap.oldId)}`;
}

/** Creates the replacement beside the running container: a bad spec fails here, before anything stops. */
export async function createReplacement(docker: Docker, swap: Swap, spec: CreateSpec): Promise<void> {
  swap.newName ??= replacementName(swap);
  swap.newId = await createFrom(docker, spec, swap.newName);
}

export type CutOverStep = 'stop' | 'park' | 'rename' | 'start';
/** Runs one step of a cut-over; the journal wraps each to record it before and after. */
export type StepRunner = <T>(step: CutOverStep, fn: () => Promise<T>) => Promise<T>;
const direct: StepRunner = (_step, fn) => fn();

/**
 * Stops the old container, parks it under another name (restart policy off, so a daemon restart
 * cannot bring it back beside its replacement), gives its name to the replacement and starts that.
 */
export async function cutOver(docker: Docker, swap: Swap, step: StepRunner = direct): Promise<void> {
  const newId = swap.newId;
  if (!newId) throw new Error('cutOver before createReplacement');
  const old = docker.getContainer(swap.oldId);
  const stopSeconds = swap.old.Config.StopTimeout ?? 10;
  await step('stop', async () => {
    await ignoring([304], () => old.stop({ t: stopSeconds }));
    swap.stopped = true;
  });
  await step('park', async () => {
    if (swap.restartPolicy?.Name && swap.restartPolicy.Name !== 'no') {
      await old.update({ RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } });
      swap.policyChanged = true;
    }
    await old.rename({ name: parkedName(swap) });
    swap.parked = true;
  });
  const replacement = docker.getContainer(newId);
  await step('rename', async () => {
    await replacement.rename({ name: swap.name });
    swap.newNamed = true;
  });
  await step('start', () => replacement.start());
}

/**
 * Puts the old container back exactly as it was. If it is gone (removed by hand meanwhile), the
 * same configuration is created again on `fallbackImage` (the pre-rollback tag). Returns the ID now running.
 */
export async function undoSwap(docker: Docker, swap: Swap, fallbackImage: string, fallbackTag: string): Promise<string | undefined> {
  if (swap.newId) {
    await ignoring([404], () => docker.getContainer(swap.newId as string).remove({ force: true, v: false }));
  }
  if (!swap.stopped) return swap.wasRunning ? swap.oldId : undefined;
  const old = docker.getContainer(swap.oldId);
  const exists = await ignoring([404], () => old.inspect());
  if (!exists) {
    const id = await createFrom(docker, specFor(swap, fallbackImage, fallbackTag, new Map()), swap.name);
    await docker.getContainer(id).start();
    return id;
  }
  if (swap.parked) await old.rename({ name: swap.name });
  if (swap.policyChanged && swap.restartPolicy) await old.update({ RestartPolicy: swap.restartPolicy });
  if (swap.wasRunning) await ignoring([304], () => old.start());
  return swap.wasRunning ? swap.oldId : undefined;
}

/** After success: the parked container goes; its anonymous volumes stay (the replacement uses them). */
export async function finishSwap(docker: Docker, swap: Swap): Promise<void> {
  if (swap.parked) await ignoring([404], () => docker.getContainer(swap.oldId).remove({ v: false, force: true }));
}
