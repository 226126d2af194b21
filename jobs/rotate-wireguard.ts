import { hostname } from 'node:os';
import { defineJob } from '../src/worker/define-job.ts';
import { rotateWireguardArgs, type WgRotationResult } from '../src/shared/contracts/wireguard.ts';
import { rotateWireguard } from '../src/features/rotation/wireguard/run.ts';

/** `/cdb rotate-wireguard <tunnel>`; runs only after approval (`rotate` needs it). */
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
        alert: (text) => ctx.notify({ key: `wireguard:${args.tunnel}`, action: 'root', text }),
      },
      args.tunnel,
      { requestId: ctx.requestId, command: 'rotate', args, origin: ctx.origin ?? { kind: 'slack' }, actor: ctx.actor },
      ctx.progress,
      ctx.signal,
    );
  },
});
