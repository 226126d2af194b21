import { z } from 'zod';
import { defineCommand } from '../src/shared/registry/define-command.ts';
import { serviceName, type ContainerStatus, type StatusResult } from '../src/shared/contracts/status.ts';
import { type Block, capBlocks, context, esc, header, section } from '../src/shared/render/blocks.ts';
import { formatDuration, textTable } from '../src/shared/render/table.ts';
import { targetsSummary } from '../src/shared/render/targets.ts';

function stateEmoji(c: ContainerStatus): string {
  if (c.health === 'unhealthy' || c.crashLoop || c.state === 'dead') return ':red_circle:';
  if (c.state === 'exited' && c.exitCode !== 0) return ':red_circle:';
  if (c.state !== 'running' || c.health === 'starting') return ':large_yellow_circle:';
  return ':large_green_circle:';
}

function stateText(c: ContainerStatus): string {
  const parts = [c.crashLoop && c.state !== 'restarting' ? `restarting (crash loop, ${c.state} for now)` : c.state];
  if (c.health) parts.push(c.health);
  if (c.state === 'exited' && c.exitCode !== undefined) parts.push(`exit ${c.exitCode}`);
  return parts.join(', ');
}

function portText(c: ContainerStatus, mark: (s: string) => string): string {
  if (!c.ports.length) return '-';
  return c.ports
    .map((p) => {
      const target = `${p.privatePort}/${p.protocol}`;
      if (p.publicPort === undefined) return target;
      const s = `${p.ip.includes(':') ? `[${p.ip}]` : p.ip}:${p.publicPort}->${target}`;
      return p.exposed ? mark(s) : s;
    })
    .join(', ');
}

function exposedCount(result: StatusResult): number {
  return result.containers.filter((c) => c.ports.some((p) => p.exposed)).length;
}

function summaryLine(result: StatusResult): string {
  const total = result.containers.length;
  const running = result.containers.filter((c) => c.state === 'running').length;
  const failing = result.containers.filter((c) => stateEmoji(c) === ':red_circle:').length;
  const exposed = exposedCount(result);
  return [`${running}/${total} running`, failing ? `${failing} failing` : '', exposed ? `${exposed} exposed on all interfaces` : '']
    .filter(Boolean)
    .join(' · ');
}

function containerBlock(c: ContainerStatus): Block {
  const lines = [
    `${stateEmoji(c)} *${esc(c.service)}*  \`${esc(c.name)}\``,
    `${esc(stateText(c))}${c.uptimeMs !== undefined && c.state === 'running' ? ` · up ${formatDuration(c.uptimeMs)}` : ''} · restarts ${c.restartCount}`,
    `image \`${esc(c.image)}\``,
  ];
  if (c.ports.length) lines.push(`ports ${esc(portText(c, (s) => `${s} :warning: *all interfaces*`))}`);
  return section(lines.join('\n'));
}

export default defineCommand({
  kind: 'job',
  name: 'status',
  summary: 'Containers of the stack: state, health, restarts, uptime, image and ports.',
  usage: 'status [service]',
  help: 'Lists the containers of the configured compose project. Ports published on 0.0.0.0 or :: are flagged: the stack should bind 127.0.0.1 only.',
  examples: ['status', 'status postgres'],
  role: 'viewer',
  positionals: ['service'],
  args: z.object({ service: serviceName.optional() }).strict(),
  job: 'status',
  // Several targets and no --on: one line per target from the workers' heartbeats, answered at once.
  acrossTargets: { slack: (t) => targetsSummary(t).slack, text: (t) => targetsSummary(t).text },
  slack(result: StatusResult) {
    const title = `Stack ${result.project}${result.service ? ` · ${result.service}` : ''}`;
    if (!result.containers.length) {
      const what = result.service ? `No container of service \`${esc(result.service)}\`` : 'No containers';
      return { text: `${title}: no containers`, blocks: [header(title), section(`${what} found for compose project \`${esc(result.project)}\`. Is the stack up, and is \`stack.project\` right?`)] };
    }
    const blocks: Block[] = [header(title), context(summaryLine(result)), ...result.containers.map(containerBlock)];
    const exposed = exposedCount(result);
    if (exposed) blocks.push(context(':warning: Ports on all interfaces are reachable from the network. Bind them to `127.0.0.1:` in the compose file.'));
    return {
      text: `${title}: ${summaryLine(result)}`,
      blocks: capBlocks(blocks, (n) => `…and ${n} more. Use \`/cdb status <service>\` to narrow down.`),
    };
  },
  text(result: StatusResult) {
    if (!result.containers.length) return `No containers found for compose project ${result.project}${result.service ? ` (service ${result.service})` : ''}.`;
    const rows = result.containers.map((c) => [
      c.service,
      c.name,
      stateText(c),
      String(c.restartCount),
      c.uptimeMs !== undefined && c.state === 'running' ? formatDuration(c.uptimeMs) : '-',
      c.image,
      portText(c, (s) => `${s} (ALL INTERFACES!)`),
    ]);
    return `${textTable(['SERVICE', 'CONTAINER', 'STATE', 'RESTARTS', 'UPTIME', 'IMAGE', 'PORTS'], rows)}\n\n${summaryLine(result)}`;
  },
  exitCode(result: StatusResult) {
    return result.containers.length ? 0 : 1;
  },
});
