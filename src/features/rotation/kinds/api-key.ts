import { z } from 'zod';
import type { RotationKind, StepContext } from '../engine.ts';
import { ensurePending, forget, keepPrevious, readPending, readPrevious, restartOrder, rollBack, rollOut, rollOutStep } from './common.ts';

const options = z
  .object({
    /** The `_old` file consumers also accept during the window (default `<file>_old`). */
    oldFile: z.string().regex(/^\/[A-Za-z0-9._/@+-]+$/).optional(),
    /** Window in hours; default rotation.apiKeyWindowHours. */
    windowHours: z.number().min(0.0001).max(24 * 30).optional(),
  })
  .strict();
type Options = z.infer<typeof options>;
type State = { windowUntil?: number };

export const oldFileOf = (ctx: StepContext<object>) => (ctx.options as Options).oldFile ?? `${ctx.secret.file}_old`;

/**
 * The seeds' dual-key scheme: the current key moves to `<name>_old` (still accepted), the new one
 * goes into the file, and a delayed job (in Redis: it survives worker restarts) empties `_old`
 * when the window ends. `_old` is emptied rather than deleted: a single-file bind mount of a
 * deleted file would come back as a directory on the next container start.
 */
export const apiKeyKind: RotationKind<State> = {
  kind: 'api-key',
  options,
  defaultScheduleDays: 30,
  initialState: () => ({}),
  steps: [
    {
      name: 'create-pending',
      summary: 'generate the new key on the worker; keep the current one in a root-only rollback file',
      async run(ctx) {
        await keepPrevious(ctx);
        await ensurePending(ctx);
      },
    },
    {
      name: 'set',
      summary: 'copy the current key to <name>_old (in place): consumers accept both',
      async run(ctx) {
        const previous = (await readPrevious(ctx)) ?? '';
        await rollOut(ctx, [{ path: oldFileOf(ctx), value: previous }]);
      },
    },
    rollOutStep<State>('write the new key in place, restart consumers one at a time, prove each one sees it', async (ctx) => [{ path: ctx.secret.file, value: await readPending(ctx) }]),
    {
      name: 'finish',
      summary: 'schedule the end of the _old window (delayed job); remove the rollback file',
      async run(ctx) {
        const hours = (ctx.options as Options).windowHours ?? 24;
        const until = ctx.state.windowUntil ?? Date.now() + hours * 3_600_000;
        await ctx.save({ windowUntil: until });
        await ctx.schedule(`window:${ctx.secret.name}`, 'rotate-window', { secret: ctx.secret.name }, until);
        await forget(ctx);
      },
    },
  ],
  plan: (secret) => ({
    steps: apiKeyKind.steps.map((s) => `${s.name}: ${s.summary}`),
    restarts: restartOrder(secret.consumers),
    expectedDowntimeMs: 0,
    warnings: ['Callers must switch to the new key before the window ends (or `--finish` ends it early).'],
  }),
  async rollback(ctx) {
    const previous = await readPrevious(ctx);
    if (!previous) {
      await forget(ctx);
      return ['Nothing had changed yet: the current key stays.'];
    }
    const line = await rollBack(ctx, [{ path: ctx.secret.file, value: previous }, { path: oldFileOf(ctx), value: '' }], `Restored the previous key in ${ctx.secret.file}, emptied ${oldFileOf(ctx)}`);
    await forget(ctx);
    return [line];
  },
  modes: {
    finish: {
      steps: [
        {
          name: 'revoke-old',
          summary: 'empty <name>_old in place and restart consumers: only the new key is accepted',
          pointOfNoReturn: true,
          async run(ctx) {
            await rollOut(ctx, [{ path: oldFileOf(ctx), value: '' }]);
            await ctx.unschedule(`window:${ctx.secret.name}`);
          },
        },
      ],
      plan: (secret) => ({ steps: [`revoke-old: empty ${secret.file}_old and restart consumers`], restarts: restartOrder(secret.consumers), expectedDowntimeMs: 0, warnings: ['Callers still using the old key are refused from now on.'] }),
      rollback: async () => ['Nothing to roll back.'],
    },
  },
};
