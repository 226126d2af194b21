import { z } from 'zod';
import type { RotationKind } from '../engine.ts';
import { ensurePending, forget, keepPrevious, readPending, readPrevious, restartOrder, rollBack, rollOutStep } from './common.ts';

type State = Record<string, never>;

/** The seeds' Django secret key: written in place, consumers restarted one at a time with health waits. */
export const appSecretKind: RotationKind<State> = {
  kind: 'app-secret',
  options: z.object({}).strict(),
  defaultScheduleDays: 90,
  initialState: () => ({}),
  steps: [
    {
      name: 'create-pending',
      summary: 'generate the new secret on the worker; keep the current one in a root-only rollback file',
      async run(ctx) {
        await keepPrevious(ctx);
        await ensurePending(ctx);
      },
    },
    {
      name: 'set',
      summary: 'write the secret file in place (same inode: the bind mounts see it)',
      async run(ctx) {
        await ctx.host.writeInPlace(ctx.secret.file, await readPending(ctx));
      },
    },
    rollOutStep<State>('rolling restart of the consumers with health waits; prove each one sees the new value', async (ctx) => [{ path: ctx.secret.file, value: await readPending(ctx) }]),
    {
      name: 'finish',
      summary: 'remove the rollback file',
      pointOfNoReturn: true,
      async run(ctx) {
        await forget(ctx);
      },
    },
  ],
  plan: (secret) => ({
    steps: appSecretKind.steps.map((s) => `${s.name}: ${s.summary}`),
    restarts: restartOrder(secret.consumers),
    expectedDowntimeMs: 0,
    warnings: ['Sessions and signed tokens made with the old secret become invalid: users log in again.'],
  }),
  async rollback(ctx) {
    const previous = await readPrevious(ctx);
    if (!previous) {
      await forget(ctx);
      return ['Nothing had changed yet: the current secret stays.'];
    }
    const line = await rollBack(ctx, [{ path: ctx.secret.file, value: previous }], `Restored the previous secret in ${ctx.secret.file}`);
    await forget(ctx);
    return [line];
  },
  after: () => ['Sessions signed with the old secret are invalidated: users have to log in again.'],
};
