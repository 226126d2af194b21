import { hostname } from 'node:os';
import { defineJob } from '../src/worker/define-job.ts';
import { rotateWireguardArgs, type WgRotationResult } from '../src/shared/contracts/wireguard.ts';
import { rotateWireguard } from '../src/features/rotation/wireguard/run.ts';

/** `/cdb rotate wireguard <tunnel>` (the `rotate` command picks this job); runs only after approval. */
export default defineJob({
  name: 'rotate-wireguard',
  journaled: true,
  args: rotateWireguardArgs,
  timeoutMs: 300_000,
  async run(ctx, args): Promise<WgRotationResult> {
    return rotateWireguard(
      {
        config: ctx.config,
        redis: ctx.redis,
        log: ctx.log,
        workerId: `${hostname()}:${process.pid}`,
        // Journaled: only this target's workers resume it if this one dies.
        ...(ctx.config.target ? { target: ctx.config.target.name } : {}),
        alert: (text) => ctx.notify({ key: `wireguard:${args.tunnel}`, action: 'root', text }),
      },
      args.tunnel,
      { requestId: ctx.requestId, command: 'rotate', args, origin: ctx.origin ?? { kind: 'slack' }, actor: ctx.actor },
      ctx.progress,
      ctx.signal,
    );
  },
});
