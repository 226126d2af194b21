import { z } from 'zod';
import { OpsError } from '../../../shared/errors.ts';
import { execIn, serviceContainers } from '../docker-exec.ts';
import type { RotationKind, StepContext } from '../engine.ts';
import { generateSecret } from '../generate.ts';
import { ensurePending, forget, keepPrevious, previousPath, readPending, readPrevious, readRequired, restartOrder, rollBack, rollOutStep } from './common.ts';

const ident = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lowercase SQL identifier');
const path = z.string().regex(/^\/[A-Za-z0-9._/@+-]+$/);

const options = z
  .object({
    /** The compose service of the database server; SQL runs inside its container. */
    service: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/),
    /** Admin credentials: a user name and a password FILE on the stack host, never a value in config or chat. */
    adminUser: ident.optional(),
    adminPasswordFile: path,
    database: ident,
    /** The two login users that take turns; identical rights. */
    users: z.tuple([ident, ident]).default(['app_a', 'app_b']),
    /** The file (on the stack host) that tells consumers which user to log in as. */
    userFile: path,
    /** PostgreSQL: the NOLOGIN role that owns the objects; both users are members. */
    ownerRole: ident.default('app_owner'),
    /** MariaDB: the host part of the accounts. */
    userHost: z.string().regex(/^[a-zA-Z0-9.%_-]{1,60}$/).default('%'),
  })
  .strict()
  .refine((o) => o.users[0] !== o.users[1], 'the two users must differ');
type Options = z.infer<typeof options>;
type State = { from?: string; to?: string; revoked?: boolean };
type Dialect = 'postgres' | 'mariadb';

/** Runs SQL as the admin inside the DB container: the password is the first stdin line, the SQL the rest. */
async function sql(ctx: StepContext<object>, dialect: Dialect, statements: string): Promise<string> {
  const o = ctx.options as Options;
  const [c] = await serviceContainers(ctx.docker, ctx.project, o.service);
  if (!c) throw new OpsError('ROTATION_FAILED', `No running container of the database service ${o.service}.`);
  const admin = await readRequired(ctx, o.adminPasswordFile, 'The database admin password file');
  const user = o.adminUser ?? (dialect === 'postgres' ? 'postgres' : 'root');
  const script = dialect === 'postgres'
    ? 'IFS= read -r PGPASSWORD; export PGPASSWORD; exec psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -U "$1" -d "$2"'
    : 'IFS= read -r MYSQL_PWD; export MYSQL_PWD; exec mariadb -N -B -h 127.0.0.1 -u "$1" "$2"';
  const r = await execIn(ctx.docker, c.Id, ['sh', '-c', script, 'sh', user, o.database], { stdin: `${admin}\n${statements}\n` });
  // The server's error text may quote the statement (with a password): never passed on.
  if (r.code !== 0) throw new OpsError('ROTATION_FAILED', `The ${dialect === 'postgres' ? 'PostgreSQL' : 'MariaDB'} statement failed (exit ${r.code}); the database log has the details.`);
  return r.stdout;
}

const q = (dialect: Dialect, user: string, o: Options) => (dialect === 'postgres' ? `"${user}"` : `'${user}'@'${o.userHost}'`);

function setPassword(dialect: Dialect, user: string, pw: string, o: Options): string {
  return dialect === 'postgres' ? `ALTER ROLE ${q(dialect, user, o)} WITH LOGIN PASSWORD '${pw}';` : `ALTER USER ${q(dialect, user, o)} IDENTIFIED BY '${pw}' ACCOUNT UNLOCK;`;
}

/** The old user keeps its rights but can no longer log in with any password anyone knows. */
function invalidate(dialect: Dialect, user: string, o: Options): string {
  return dialect === 'postgres' ? `ALTER ROLE ${q(dialect, user, o)} WITH PASSWORD NULL;` : `ALTER USER ${q(dialect, user, o)} IDENTIFIED BY '${generateSecret(32)}' ACCOUNT LOCK;`;
}

async function current(ctx: StepContext<object>): Promise<{ from: string; to: string }> {
  const o = ctx.options as Options;
  const st = ctx.state as State;
  if (st.from && st.to) return { from: st.from, to: st.to };
  const from = await readRequired(ctx, o.userFile, 'The user name file');
  if (!o.users.includes(from)) throw new OpsError('ROTATION_FAILED', `${o.userFile} names ${from}, not one of ${o.users.join('/')}: run /cdb rotate ${ctx.secret.name} --setup first.`);
  const to = o.users[0] === from ? o.users[1] : o.users[0];
  await ctx.save({ from, to });
  return { from, to };
}

async function setupStatements(ctx: StepContext<object>, dialect: Dialect): Promise<string[]> {
  const o = ctx.options as Options;
  const [a, b] = o.users;
  if (dialect === 'postgres') {
    const roles = (await sql(ctx, dialect, `SELECT rolname FROM pg_roles WHERE rolname IN ('${a}','${b}','${o.ownerRole}');`)).split('\n').filter(Boolean);
    const out: string[] = [];
    if (!roles.includes(a)) throw new OpsError('ROTATION_FAILED', `The current user ${a} does not exist in ${o.database}.`);
    if (!roles.includes(o.ownerRole)) out.push(`CREATE ROLE "${o.ownerRole}" NOLOGIN;`);
    if (!roles.includes(b)) out.push(`CREATE ROLE "${b}" LOGIN;`);
    out.push(`GRANT "${o.ownerRole}" TO "${a}", "${b}";`);
    return out;
  }
  const grants = (await sql(ctx, dialect, `SHOW GRANTS FOR '${a}'@'${o.userHost}';`)).split('\n').filter(Boolean);
  // The USAGE line carries the password hash: never copied, never shown.
  const copied = grants.filter((g) => /^GRANT /.test(g) && !/^GRANT USAGE ON \*\.\*/.test(g)).map((g) => g.replace(/IDENTIFIED BY PASSWORD '[^']*'/, '').replace(new RegExp(`\`${a}\`@\`[^\`]*\``, 'g'), `'${b}'@'${o.userHost}'`).trim().replace(/;?$/, ';'));
  return [`CREATE USER IF NOT EXISTS '${b}'@'${o.userHost}' ACCOUNT LOCK;`, ...copied];
}

export function databaseKind(dialect: Dialect): RotationKind<State> {
  const kind: RotationKind<State> = {
    kind: dialect,
    options: options as unknown as z.ZodType<Record<string, unknown>>,
    defaultScheduleDays: 180,
    initialState: () => ({}),
    steps: [
      {
        name: 'create-pending',
        summary: 'pick the user not in use; generate its new password on the worker; keep the current user and password in root-only rollback files',
        async run(ctx) {
          const o = ctx.options as Options;
          await current(ctx);
          await keepPrevious(ctx);
          await keepPrevious(ctx, o.userFile, '.user');
          await ensurePending(ctx);
        },
      },
      {
        name: 'set',
        summary: 'set the fresh password on the idle user (the old user keeps working)',
        async run(ctx) {
          const { to } = await current(ctx);
          await sql(ctx, dialect, setPassword(dialect, to, await readPending(ctx), ctx.options as Options));
        },
      },
      rollOutStep<State>('write user and password files in place, restart consumers one at a time, prove each connects as the new user', async (ctx) => {
        const o = ctx.options as Options;
        const { to } = await current(ctx);
        return [{ path: o.userFile, value: to }, { path: ctx.secret.file, value: await readPending(ctx) }];
      }),
      {
        name: 'finish',
        summary: 'invalidate the old user’s password; remove the rollback files',
        pointOfNoReturn: true,
        async run(ctx) {
          const { from } = await current(ctx);
          await sql(ctx, dialect, invalidate(dialect, from, ctx.options as Options));
          await ctx.save({ revoked: true });
          await forget(ctx);
          await forget(ctx, '.user');
        },
      },
    ],
    plan: (secret) => ({
      steps: kind.steps.map((s) => `${s.name}: ${s.summary}`),
      restarts: restartOrder(secret.consumers),
      expectedDowntimeMs: 0,
      warnings: [],
    }),
    async rollback(ctx) {
      const o = ctx.options as Options;
      const previous = await readPrevious(ctx);
      const previousUser = await ctx.host.read(previousPath(ctx, '.user'));
      const lines: string[] = [];
      if (previous !== undefined && previousUser !== undefined) {
        const fileUser = await ctx.host.read(o.userFile);
        if (fileUser !== previousUser) {
          lines.push(await rollBack(ctx, [{ path: o.userFile, value: previousUser }, { path: ctx.secret.file, value: previous }], `Pointed the consumers back at ${previousUser} with its unchanged password`));
        }
      }
      const { to } = ctx.state;
      if (to) {
        await sql(ctx, dialect, invalidate(dialect, to, o));
        lines.push(`Invalidated the fresh password of ${to}; ${ctx.state.from ?? 'the previous user'} is in use as before.`);
      }
      await forget(ctx);
      await forget(ctx, '.user');
      return lines.length ? lines : ['Nothing had changed yet.'];
    },
    async dryRun(ctx) {
      const stmts = await setupStatements(ctx, dialect);
      const o = ctx.options as Options;
      const fileUser = await ctx.host.read(o.userFile);
      return [
        `Dry run on ${o.service}/${o.database}: these statements would run as ${o.adminUser ?? (dialect === 'postgres' ? 'postgres' : 'root')}:`,
        ...stmts.map((s) => `  ${s}`),
        fileUser === undefined ? `${o.userFile} would be created naming ${o.users[0]} (the user in use).` : `${o.userFile} names ${fileUser}: unchanged.`,
      ];
    },
    modes: {
      setup: {
        steps: [
          {
            name: 'setup',
            summary: 'create the second user with the same rights (the dry run shown at approval)',
            async run(ctx) {
              const o = ctx.options as Options;
              const stmts = await setupStatements(ctx, dialect);
              await sql(ctx, dialect, stmts.join('\n'));
              if ((await ctx.host.read(o.userFile)) === undefined) await ctx.host.writeInPlace(o.userFile, o.users[0]);
            },
          },
        ],
        plan: (secret) => ({ steps: ['setup: create the second user with identical rights (dry run below)'], restarts: [], expectedDowntimeMs: 0, warnings: [`${secret.name}: no password changes; consumers are not touched.`] }),
        rollback: async () => ['The setup statements are idempotent; nothing to undo (run --setup again).'],
      },
    },
  };
  return kind;
}
