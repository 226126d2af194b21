import type Docker from 'dockerode';
import { z } from 'zod';
import { defineJob } from '../src/worker/define-job.ts';
import { CRASH_LOOP_WINDOW_MS, serviceName, type ContainerStatus, type PortBinding, type StatusResult } from '../src/shared/contracts/status.ts';
import { mapLimit } from '../src/shared/map-limit.ts';
import { dockerCall } from '../src/host/docker-errors.ts';

const ALL_INTERFACES = new Set(['0.0.0.0', '::', '']);

export function portsOf(info: Docker.ContainerInfo): PortBinding[] {
  const seen = new Set<string>();
  const ports: PortBinding[] = [];
  for (const p of info.Ports ?? []) {
    const key = `${p.IP}|${p.PrivatePort}|${p.PublicPort}|${p.Type}`;
    if (seen.has(key)) continue;
    seen.add(key);
    ports.push({
      ip: p.IP ?? '',
      privatePort: p.PrivatePort,
      publicPort: p.PublicPort || undefined,
      protocol: p.Type,
      exposed: Boolean(p.PublicPort) && ALL_INTERFACES.has(p.IP ?? ''),
    });
  }
  return ports.sort((a, b) => a.privatePort - b.privatePort || a.ip.localeCompare(b.ip));
}

function toStatus(info: Docker.ContainerInfo, detail: Docker.ContainerInspectInfo | undefined, now: number): ContainerStatus {
  const labels = info.Labels ?? {};
  const state = detail?.State;
  const started = state?.StartedAt && !state.StartedAt.startsWith('0001') ? state.StartedAt : undefined;
  const health = state?.Health?.Status;
  const restartCount = detail?.RestartCount ?? 0;
  const uptimeMs = started ? Math.max(0, now - Date.parse(started)) : undefined;
  const status = state?.Status ?? info.State;
  return {
    id: info.Id.slice(0, 12),
    name: (info.Names?.[0] ?? info.Id).replace(/^\//, ''),
    service: labels['com.docker.compose.service'] ?? '(none)',
    state: status,
    health: health === 'healthy' || health === 'unhealthy' || health === 'starting' ? health : undefined,
    restartCount,
    crashLoop: status === 'restarting' || (status === 'running' && restartCount > 0 && uptimeMs !== undefined && uptimeMs < CRASH_LOOP_WINDOW_MS),
    startedAt: started,
    uptimeMs,
    exitCode: state?.Status === 'exited' ? state.ExitCode : undefined,
    image: info.Image,
    ports: portsOf(info),
  };
}

/** Lists the project's containers; inspects them concurrently for restart counts and health. */
export async function collectStatus(docker: Docker, project: string, service?: string): Promise<StatusResult> {
  const label = [`com.docker.compose.project=${project}`];
  if (service) label.push(`com.docker.compose.service=${service}`);
  const list = await dockerCall('list containers', () => docker.listContainers({ all: true, filters: { label } }));
  const details = await mapLimit(list, 16, async (info) => {
    try {
      return await docker.getContainer(info.Id).inspect();
    } catch {
      return undefined; // removed between list and inspect: report what the list said
    }
  });
  const now = Date.now();
  const containers = list
    .map((info, i) => toStatus(info, details[i], now))
    .sort((a, b) => a.service.localeCompare(b.service) || a.name.localeCompare(b.name));
  return { project, service, checkedAt: new Date(now).toISOString(), containers };
}

export default defineJob({
  name: 'status',
  args: z.object({ service: serviceName.optional() }).strict(),
  timeoutMs: 30_000,
  async run(ctx, { service }) {
    ctx.progress(`Inspecting containers of ${ctx.config.stack.project}…`);
    return collectStatus(ctx.docker, ctx.config.stack.project, service);
  },
});
