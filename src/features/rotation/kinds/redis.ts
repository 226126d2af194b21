import { z } from 'zod';
import { OpsError } from '../../../shared/errors.ts';
import { execIn, serviceContainers } from '../docker-exec.ts';
import type { RotationKind, StepContext } from '../engine.ts';
import { ensurePending, forget, keepPrevious, pendingPath, readPending, readPrevious, restartOrder, rollBack, rollOutStep } from './common.ts';

const options = z
  .object({
    /** The compose service of the Redis server (it is never restarted). */
    service: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/),
    user: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/).default('default'),
    /**
     * How the stack persists the password: `file` (the server reads the secret file at start, as
     * the seeds' REDIS_PASSWORD_FILE does), `acl-save` (an aclfile), `config-rewrite` (redis.conf).
     */
    persist: z.enum(['file', 'acl-save', 'config-rewrite']).default('file'),
  })
  .strict();
type Options = z.infer<typeof options>;
type State = { revoked?: boolean };

/**
 * redis-cli inside the server's container, fed on stdin (AUTH first), so no password is ever in an
 * argv or an environment that `docker inspect` shows. Tries the given passwords in order.
 */
async function redisCli(ctx: StepContext<object>, passwords: readonly (string | undefined)[], commands: readonly string[]): Promise<string[]> {
  const o = ctx.options as Options;
  const [c] = await serviceContainers(ctx.docker, ctx.project, o.service);
  if (!c) throw new OpsError('ROTATION_FAILED', `No running container of the Redis service ${o.service}.`);
  for (const pw of passwords) {
    if (!pw) continue;
    const r = await execIn(ctx.docker, c.Id, ['redis-cli', '--no-auth-warning'], { stdin: [`AUTH ${o.user} ${pw}`, 'PING', ...commands, ''].join('\n') });
    const lines = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
    if (lines[0] === 'OK' && lines[1] === 'PONG') return lines.slice(2);
  }
  throw new OpsError('ROTATION_FAILED', `Could not authenticate to Redis (${o.service}) as ${o.user} with the current or the new password.`);
}

// Redis echoes the ACL modifier (with the password) in its errors: a reply is never quoted.
function expectOk(lines: string[], what: string, allowMissing = false): void {
  const bad = lines.find((l) => l !== 'OK' && !(allowMissing && /password you are trying to remove .* does not exist/.test(l)));
  if (bad !== undefined) throw new OpsError('ROTATION_FAILED', `Redis refused ${what}.`);
}

async function persist(ctx: StepContext<object>, pw: string): Promise<void> {
  const o = ctx.options as Options;
  if (o.persist === 'file') return; // the secret file already holds the new value
  if (o.persist === 'acl-save') return expectOk(await redisCli(ctx, [pw], ['ACL SAVE']), o.persist);
  // CONFIG REWRITE keeps a `requirepass` line as it was at start: the old password, which a restart
  // would apply again (beside the new one in the rewritten `user default` line). For the default
  // user, requirepass is set to the new value first (it leaves that one password, as after `<old`).
  const commands = o.user === 'default' ? [`CONFIG SET requirepass ${pw}`, 'CONFIG REWRITE'] : ['CONFIG REWRITE'];
  expectOk(await redisCli(ctx, [pw], commands), o.persist);
}

export const redisKind: RotationKind<State> = {
  kind: 'redis',
  options,
  defaultScheduleDays: 90,
  initialState: () => ({}),
  steps: [
    {
      name: 'create-pending',
      summary: 'generate the new password on the worker; keep the current one in a root-only rollback file',
      async run(ctx) {
        await keepPrevious(ctx);
        await ensurePending(ctx);
      },
    },
    {
      name: 'set',
      summary: 'ACL SETUSER <user> >new: Redis accepts both passwords',
      async run(ctx) {
        const o = ctx.options as Options;
        const [pending, previous] = [await readPending(ctx), await readPrevious(ctx)];
        expectOk(await redisCli(ctx, [previous, pending], [`ACL SETUSER ${o.user} >${pending}`]), 'the new password');
      },
    },
    rollOutStep<State>(
      'write the secret file in place, restart consumers one at a time, prove each one sees and uses the new value',
      async (ctx) => [{ path: ctx.secret.file, value: await readPending(ctx) }],
      // The new password must really open Redis before the old one goes.
      async (ctx) => void (await redisCli(ctx, [await readPending(ctx)], [])),
    ),
    {
      name: 'finish',
      summary: 'ACL SETUSER <user> <old (old password refused), persist, remove the rollback file',
      pointOfNoReturn: true,
      async run(ctx) {
        const o = ctx.options as Options;
        // Killed after the files were removed: everything below had already run.
        if (ctx.state.revoked && (await ctx.host.read(pendingPath(ctx))) === undefined) return;
        const pending = await readPending(ctx);
        const previous = await readPrevious(ctx);
        if (previous && previous !== pending) {
          const lines = await redisCli(ctx, [pending], [`ACL SETUSER ${o.user} <${previous}`]);
          expectOk(lines, 'removing the old password', true);
        }
        await ctx.save({ revoked: true });
        await persist(ctx, pending);
        await forget(ctx);
      },
    },
  ],
  plan: (secret) => ({
    steps: redisKind.steps.map((s) => `${s.name}: ${s.summary}`),
    restarts: restartOrder(secret.consumers),
    expectedDowntimeMs: 0,
    warnings: [],
  }),
  async rollback(ctx) {
    const o = ctx.options as Options;
    const previous = await readPrevious(ctx);
    const pending = await ctx.host.read(`${ctx.stateDir}/${ctx.secret.name}.pending`);
    if (!previous) {
      await forget(ctx);
      return ['Nothing had changed yet (no rollback file): the current password stays.'];
    }
    const lines: string[] = [];
    expectOk(await redisCli(ctx, [previous, pending], [`ACL SETUSER ${o.user} >${previous}`]), 'restoring the old password');
    const current = await ctx.host.read(ctx.secret.file);
    if (current?.replace(/\r?\n$/, '') !== previous) {
      lines.push(await rollBack(ctx, [{ path: ctx.secret.file, value: previous }], `Restored the previous password in ${ctx.secret.file}`));
    } else {
      lines.push(`${ctx.secret.file} still held the previous password.`);
    }
    if (pending && pending !== previous) {
      expectOk(await redisCli(ctx, [previous], [`ACL SETUSER ${o.user} <${pending}`]), 'removing the new password', true);
      lines.push('Removed the new password from the Redis ACL; the previous one is the only one again.');
    }
    await forget(ctx);
    return lines;
  },
};
