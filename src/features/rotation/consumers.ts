import type Docker from 'dockerode';
import { OpsError } from '../../shared/errors.ts';
import { waitReady } from '../rollback/health.ts';
import { execIn, serviceContainers } from './docker-exec.ts';
import type { ConsumerOps, ConsumerSpec, ProbeResult } from './engine.ts';

export function consumerOps(docker: Docker, project: string, healthTimeoutMs: number, signal?: AbortSignal): ConsumerOps {
  return {
    async restart(service) {
      const containers = await serviceContainers(docker, project, service);
      // One at a time: with several replicas, the others keep serving while one restarts.
      for (const c of containers) {
        // No `t`: the Engine then waits the container's own stop timeout (compose's stop_grace_period)
        // before it kills. A fixed 10 s made every consumer that ignores SIGTERM (a shell or `sleep`
        // as PID 1) cost 10 s per restart however short its configured grace period.
        await docker.getContainer(c.Id).restart();
        const ready = await waitReady(docker, c.Id, healthTimeoutMs, signal);
        if (!ready.ok) throw new OpsError('ROTATION_FAILED', `${service} did not come back after its restart: ${ready.detail}.`);
      }
    },
    async execAll(service, argv) {
      const containers = await serviceContainers(docker, project, service);
      const codes: number[] = [];
      for (const c of containers) codes.push((await execIn(docker, c.Id, argv)).code);
      return codes;
    },
    async sees(service, mountPath, value) {
      const containers = await serviceContainers(docker, project, service);
      if (!containers.length) return false;
      for (const c of containers) {
        const r = await execIn(docker, c.Id, ['cat', mountPath]);
        // Compared here, in memory; the content is never logged or returned.
        if (r.code !== 0 || r.stdout.replace(/\r?\n$/, '') !== value.replace(/\r?\n$/, '')) return false;
      }
      return true;
    },
  };
}

/** The consumer's own healthcheck as argv (CMD or CMD-SHELL), or undefined without one. */
export function healthcheckArgv(info: Docker.ContainerInspectInfo): string[] | undefined {
  const test = info.Config.Healthcheck?.Test;
  if (!test?.length || test[0] === 'NONE') return undefined;
  if (test[0] === 'CMD-SHELL') return ['/bin/sh', '-c', test.slice(1).join(' ')];
  if (test[0] === 'CMD') return test.slice(1);
  return test;
}

export const PROBE_INTERVAL_MS = 100;

/**
 * Every 100 ms, the consumer's probe inside one of its running containers; a failure (or no
 * container running) counts as downtime until the next success. Measures, never decides.
 */
export class DowntimeProbe {
  readonly result: ProbeResult;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly docker: Docker, private readonly project: string, private readonly consumer: ConsumerSpec, prior?: ProbeResult) {
    this.result = prior ? { ...prior } : { service: consumer.service, probes: 0, failures: 0, downtimeMs: 0 };
  }

  /** Up when any running container passes: with replicas, one restarting does not make the service down. */
  private async once(): Promise<boolean> {
    try {
      const containers = await serviceContainers(this.docker, this.project, this.consumer.service);
      for (const c of containers) {
        let argv = this.consumer.probe ? [...this.consumer.probe] : undefined;
        if (!argv) argv = healthcheckArgv(await this.docker.getContainer(c.Id).inspect());
        if (!argv) return true; // nothing to ask: being up is all we can tell
        // A slow answer on a loaded host is not an outage: only a refusal or a hang this long counts.
        const ok = await execIn(this.docker, c.Id, argv, { timeoutMs: 20_000 }).then((r) => r.code === 0, () => false);
        if (ok) return true;
      }
      return false;
    } catch {
      return false;
    }
  }

  start(): this {
    this.loop = (async () => {
      let downSince: number | undefined;
      while (!this.stopped) {
        const began = Date.now();
        const ok = await this.once();
        this.result.probes += 1;
        if (!ok) {
          this.result.failures += 1;
          downSince ??= began;
        } else if (downSince !== undefined) {
          this.result.downtimeMs += began - downSince;
          downSince = undefined;
        }
        const wait = PROBE_INTERVAL_MS - (Date.now() - began);
        if (wait > 0 && !this.stopped) await new Promise((r) => setTimeout(r, wait));
      }
      if (downSince !== undefined) this.result.downtimeMs += Date.now() - downSince;
    })();
    return this;
  }

  async stop(): Promise<ProbeResult> {
    this.stopped = true;
    await this.loop;
    return this.result;
  }
}
