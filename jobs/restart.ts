import { z } from 'zod';
import { defineJob } from '../src/worker/define-job.ts';
import { OpsError } from '../src/shared/errors.ts';
import { serviceName } from '../src/shared/contracts/status.ts';
import type { RestartedContainer, RestartResult } from '../src/shared/contracts/restart.ts';
import { containerNameOf, serviceContainers } from '../src/features/alerts/docker-state.ts';
import { dockerCall } from '../src/host/docker-errors.ts';

/** Seconds a container gets to stop before it is killed, as `docker restart -t`. */
const STOP_TIMEOUT_S = 10;

/** `/cdb restart <service>`: restarts the service's containers one after the other. */
export default defineJob({
  name: 'restart',
  args: z.object({ service: serviceName }).strict(),
  timeoutMs: 180_000,
  async run(ctx, { service }): Promise<RestartResult> {
    const project = ctx.config.stack.project;
    const containers = await serviceContainers(ctx.docker, project, service);
    if (!containers.length) throw new OpsError('NOT_FOUND', `No container of service \`${service}\` in compose project \`${project}\`. Check the name with \`/cdb status\`.`);
    const out: RestartedContainer[] = [];
    // One at a time: a service with replicas keeps serving while each restarts.
    for (const info of containers.sort((a, b) => containerNameOf(a).localeCompare(containerNameOf(b)))) {
      const name = containerNameOf(info);
      ctx.progress(`Restarting ${name}…`);
      try {
        const c = ctx.docker.getContainer(info.Id);
        await dockerCall('restart a container', () => c.restart({ t: STOP_TIMEOUT_S }));
        const after = await c.inspect();
        out.push({ name, ok: true, detail: [after.State.Status, after.State.Health?.Status].filter(Boolean).join(', ') });
      } catch (err) {
        if (err instanceof OpsError) throw err;
        const reason = (err as { json?: { message?: string } }).json?.message ?? (err instanceof Error ? err.message : String(err));
        ctx.log.warn({ container: name, err: reason }, 'restart failed');
        out.push({ name, ok: false, detail: reason.slice(0, 300) });
      }
    }
    return { project, service, containers: out };
  },
});
