import type Docker from 'dockerode';

export type Readiness = { readonly ok: true; readonly state: 'healthy' | 'running' } | { readonly ok: false; readonly detail: string };

const POLL_MS = 100;
/** Until a probe can have run, polling only watches for exits: slowly, to leave the Engine to the starts. */
const IDLE_POLL_MS = 1000;
const DEFAULT_INTERVAL_MS = 30_000;
/** Without a healthcheck, "running" must hold this long: a crash-looping process is running for a moment too. */
export const RUNNING_STABLE_MS = 1000;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function hasHealthcheck(info: Docker.ContainerInspectInfo): boolean {
  const test = info.Config.Healthcheck?.Test;
  return Boolean(info.State.Health) && !(test?.[0] === 'NONE');
}

function lastProbe(info: Docker.ContainerInspectInfo): string {
  const log = info.State.Health?.Log ?? [];
  const last = log[log.length - 1];
  if (!last) return '';
  const out = last.Output.trim().replace(/\s+/g, ' ').slice(0, 160);
  return ` (last check: exit ${last.ExitCode}${out ? `, ${out}` : ''})`;
}

/**
 * Waits until a started container is healthy, or running and stable if it has no healthcheck.
 * Fails fast on `unhealthy`, on an exit, and on a restart, rather than sitting out the timeout.
 */
export async function waitReady(docker: Docker, id: string, timeoutMs: number, signal?: AbortSignal): Promise<Readiness> {
  const began = Date.now();
  const deadline = began + timeoutMs;
  const container = docker.getContainer(id);
  let last = 'not inspected yet';
  // Measured on this clock, not from StartedAt: a remote Engine's clock may be off.
  let runningSince: number | undefined;
  for (;;) {
    let delay = POLL_MS;
    if (signal?.aborted) return { ok: false, detail: 'the job was stopped (time limit) before the container was ready' };
    let info: Docker.ContainerInspectInfo;
    try {
      info = await container.inspect();
    } catch (err) {
      return { ok: false, detail: `the container disappeared (${(err as Error).message.slice(0, 120)})` };
    }
    const s = info.State;
    if (s.Status === 'exited' || s.Status === 'dead') return { ok: false, detail: `exited with code ${s.ExitCode}${s.Error ? `: ${s.Error}` : ''}` };
    if (s.Restarting || info.RestartCount > 0) return { ok: false, detail: `restarting (exit code ${s.ExitCode}, ${info.RestartCount} restarts)` };
    if (hasHealthcheck(info)) {
      const health = s.Health?.Status;
      if (health === 'healthy') return { ok: true, state: 'healthy' };
      if (health === 'unhealthy') return { ok: false, detail: `unhealthy${lastProbe(info)}` };
      last = `health ${health ?? 'unknown'}${lastProbe(info)}`;
      // The first probe runs one interval after the start: no point asking ten times a second before.
      const intervalMs = (info.Config.Healthcheck?.Interval ?? 0) / 1e6 || DEFAULT_INTERVAL_MS;
      const untilFirstProbe = began + intervalMs - Date.now();
      if (!s.Health?.Log?.length && untilFirstProbe > 2 * POLL_MS) delay = Math.min(IDLE_POLL_MS, untilFirstProbe - POLL_MS);
    } else if (s.Running) {
      runningSince ??= Date.now();
      if (Date.now() - runningSince >= RUNNING_STABLE_MS) return { ok: true, state: 'running' };
      last = 'running (no healthcheck), settling';
    } else {
      last = s.Status;
    }
    if (Date.now() >= deadline) return { ok: false, detail: `not ready after ${Math.round(timeoutMs / 1000)} s: ${last}` };
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), signal);
  }
}
