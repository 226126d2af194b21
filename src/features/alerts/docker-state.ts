import type Docker from 'dockerode';
import { dockerCall } from '../../host/docker-errors.ts';
import { mapLimit } from '../../shared/map-limit.ts';
import type { DockerObservation } from './symptoms.ts';
import { CRASH_LOOP_WINDOW_MS } from '../../shared/contracts/status.ts';

const SERVICE_LABEL = 'com.docker.compose.service';

export function containerNameOf(info: Pick<Docker.ContainerInfo, 'Names' | 'Id'>): string {
  return (info.Names?.[0] ?? info.Id.slice(0, 12)).replace(/^\//, '');
}

/**
 * The compose project's containers as the alert check needs them: one list call, then an inspect
 * per container (restart count and health are only there), 16 at a time. `only` limits the
 * inspects to the containers an event named.
 */
export async function observeContainers(docker: Docker, project: string, only?: ReadonlySet<string>): Promise<Map<string, DockerObservation>> {
  const list = await dockerCall('list containers', () => docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } }));
  const wanted = list.filter((c) => !only || only.has(containerNameOf(c)));
  const details = await mapLimit(wanted, 16, async (info) => docker.getContainer(info.Id).inspect().catch(() => undefined));
  const out = new Map<string, DockerObservation>();
  wanted.forEach((info, i) => {
    const d = details[i];
    const name = containerNameOf(info);
    const health = d?.State?.Health?.Status;
    const probes = d?.State?.Health?.Log ?? [];
    const lastProbe = probes[probes.length - 1];
    const startedAt = Date.parse(d?.State?.StartedAt ?? '');
    const restartCount = d?.RestartCount ?? 0;
    const state = d?.State?.Status ?? info.State;
    out.set(name, {
      id: info.Id,
      name,
      service: info.Labels?.[SERVICE_LABEL] ?? name,
      state,
      health: health === 'healthy' || health === 'unhealthy' || health === 'starting' ? health : undefined,
      exitCode: d?.State?.ExitCode,
      oomKilled: d?.State?.OOMKilled || undefined,
      restartCount,
      crashLoop: state === 'running' && restartCount > 0 && Date.now() - startedAt < CRASH_LOOP_WINDOW_MS,
      healthOutput: health === 'unhealthy' && lastProbe && lastProbe.ExitCode !== 0 ? String(lastProbe.Output ?? '').slice(0, 1000) : undefined,
    });
  });
  return out;
}

/** Names of a service's containers (any state). */
export async function serviceContainers(docker: Docker, project: string, service: string): Promise<Docker.ContainerInfo[]> {
  return dockerCall('list containers', () =>
    docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`, `${SERVICE_LABEL}=${service}`] } }),
  );
}

/** Splits Docker's multiplexed log stream (8-byte frame headers) unless the container has a TTY. */
export function demuxLogs(buf: Buffer): string {
  const framed = buf.length >= 8 && buf[0]! <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
  if (!framed) return buf.toString('utf8');
  const parts: Buffer[] = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const size = buf.readUInt32BE(off + 4);
    parts.push(buf.subarray(off + 8, Math.min(buf.length, off + 8 + size)));
    off += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

export interface DockerLogLine {
  readonly ns: string;
  readonly container: string;
  readonly line: string;
}

/**
 * The last lines a container wrote, from the Engine API: what `/cdb logs` and incident evidence
 * fall back to when Loki is not configured or not answering. Newest first.
 */
export async function dockerLogTail(docker: Docker, id: string, name: string, opts: { tail: number; sinceSec?: number }): Promise<DockerLogLine[]> {
  const raw = await dockerCall('read container logs', () =>
    docker.getContainer(id).logs({ stdout: true, stderr: true, timestamps: true, tail: opts.tail, since: opts.sinceSec ?? 0, follow: false }),
  );
  const text = demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
  const out: DockerLogLine[] = [];
  for (const row of text.split('\n')) {
    if (!row) continue;
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z (.*)$/s.exec(row);
    const ms = m ? Date.parse(`${m[1]}Z`) : NaN;
    const ns = Number.isNaN(ms) ? '0' : (BigInt(ms) * 1_000_000n + BigInt((m?.[2] ?? '').padEnd(9, '0'))).toString();
    out.push({ ns, container: name, line: m ? (m[3] ?? '') : row });
  }
  return out.reverse();
}
