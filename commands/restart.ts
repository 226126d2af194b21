import { z } from 'zod';
import { defineCommand } from '../src/shared/registry/define-command.ts';
import { serviceName } from '../src/shared/contracts/status.ts';
import type { RestartResult } from '../src/shared/contracts/restart.ts';
import { esc, section } from '../src/shared/render/blocks.ts';

function line(c: RestartResult['containers'][number], mark: (ok: boolean) => string): string {
  return `${mark(c.ok)} ${c.name} — ${c.ok ? c.detail : `failed: ${c.detail}`}`;
}

export default defineCommand({
  kind: 'job',
  name: 'restart',
  summary: 'Restarts the containers of one service (docker restart, one at a time).',
  usage: 'restart <service>',
  help: 'Stops each container of the service (10 s grace, then killed) and starts it again, one after the other. Configuration and image stay as they are: to change those, use rollback or the compose files.',
  examples: ['restart core'],
  role: 'operator',
  positionals: ['service'],
  args: z.object({ service: serviceName }).strict(),
  job: 'restart',
  slack(r: RestartResult) {
    const failed = r.containers.filter((c) => !c.ok).length;
    const head = failed ? `:warning: Restarted ${r.containers.length - failed} of ${r.containers.length} containers of *${esc(r.service)}*` : `:arrows_counterclockwise: Restarted *${esc(r.service)}* (${r.containers.length} container${r.containers.length === 1 ? '' : 's'})`;
    const body = r.containers.map((c) => esc(line(c, (ok) => (ok ? ':white_check_mark:' : ':x:')))).join('\n');
    return { text: `Restart ${r.service}: ${failed ? `${failed} failed` : 'done'}`, blocks: [section(`${head}\n${body}`)] };
  },
  text(r: RestartResult) {
    return [`restart ${r.service}:`, ...r.containers.map((c) => line(c, (ok) => (ok ? 'ok  ' : 'FAIL')))].join('\n');
  },
  exitCode(r: RestartResult) {
    return r.containers.every((c) => c.ok) ? 0 : 1;
  },
});
