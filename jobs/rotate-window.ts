import { defineJob } from '../src/worker/define-job.ts';
import { rotateWindowArgs } from '../src/shared/contracts/rotation.ts';
import { RotationJournal } from '../src/features/rotation/journal.ts';
import { startRotation } from '../src/features/rotation/run.ts';
import { rotationDeps } from '../src/features/rotation/job-deps.ts';
import { keyPrefix } from '../src/shared/queue/names.ts';
import { OpsError } from '../src/shared/errors.ts';

/**
 * The end of an api-key's `_old` window: a BullMQ delayed job scheduled by the rotation's finish
 * step (so it survives worker restarts). Part of the approved rotation, so it needs no approval of
 * its own; `/cdb rotate <secret> --finish` (approved) ends the window earlier and cancels it.
 */
export default defineJob({
  name: 'rotate-window',
  args: rotateWindowArgs,
  timeoutMs: 3_600_000,
  async run(ctx, { secret }) {
    const journal = new RotationJournal(ctx.redis, keyPrefix(ctx.config));
    const last = await journal.get(secret);
    if (!last || last.kind !== 'api-key' || typeof last.state.windowUntil !== 'number') {
      ctx.log.info({ secret }, 'no open _old window: nothing to do');
      return { secret, skipped: true };
    }
    try {
      const result = await startRotation(rotationDeps(ctx), {
        secret, mode: 'finish', requestId: ctx.requestId, command: 'rotate', args: { secret, finish: true },
        origin: last.origin, actor: ctx.actor,
      });
      await ctx.notify({ key: `rotation-window:${secret}`, action: 'root', ...(last.origin.channel ? { channel: last.origin.channel } : {}), text: `The \`${secret}_old\` window of ${secret} ended: ${result.status === 'succeeded' ? 'only the new key is accepted now' : `it did not finish (${result.status}): ${result.error ?? ''}`}.` });
      return result;
    } catch (err) {
      if (err instanceof OpsError && err.code === 'ROTATION_IN_PROGRESS') return { secret, skipped: true };
      throw err;
    }
  },
});
