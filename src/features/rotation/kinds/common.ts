import { basename } from 'node:path';
import { OpsError } from '../../../shared/errors.ts';
import type { ConsumerSpec, RotationStep, StepContext } from '../engine.ts';
import { generateSecret, SECRET_LENGTH } from '../generate.ts';

/** Root-only files under stateDir: the value being rolled out, and the one it replaces. */
export const pendingPath = (ctx: StepContext<object>, suffix = '') => `${ctx.stateDir}/${ctx.secret.name}${suffix}.pending`;
export const previousPath = (ctx: StepContext<object>, suffix = '') => `${ctx.stateDir}/${ctx.secret.name}${suffix}.previous`;

export const mountPathOf = (c: ConsumerSpec, file: string) => c.mountPath ?? `/run/secrets/${basename(file)}`;

export async function readRequired(ctx: StepContext<object>, path: string, what: string): Promise<string> {
  const v = await ctx.host.read(path);
  if (v === undefined) throw new OpsError('ROTATION_FAILED', `${what} (${path}) is missing on ${ctx.host.where}.`);
  return v.replace(/\r?\n$/, '');
}

/** Copies the current value aside once (a re-run keeps the first copy: by then the file may hold the new value). */
export async function keepPrevious(ctx: StepContext<object>, file = ctx.secret.file, suffix = ''): Promise<string> {
  const existing = await ctx.host.read(previousPath(ctx, suffix));
  if (existing !== undefined) return existing;
  const current = await readRequired(ctx, file, `The secret file of ${ctx.secret.name}`);
  await ctx.host.writeInPlace(previousPath(ctx, suffix), current);
  return current;
}

/** Generates the new value on the worker, once: a re-run finds it in the pending file. */
export async function ensurePending(ctx: StepContext<object>, suffix = ''): Promise<string> {
  const existing = await ctx.host.read(pendingPath(ctx, suffix));
  if (existing) return existing;
  const value = generateSecret(SECRET_LENGTH[ctx.secret.kind] ?? 32);
  await ctx.host.writeInPlace(pendingPath(ctx, suffix), value);
  return value;
}

export async function readPending(ctx: StepContext<object>, suffix = ''): Promise<string> {
  return readRequired(ctx, pendingPath(ctx, suffix), 'The pending value');
}

export async function readPrevious(ctx: StepContext<object>, suffix = ''): Promise<string | undefined> {
  return ctx.host.read(previousPath(ctx, suffix));
}

export async function forget(ctx: StepContext<object>, suffix = ''): Promise<void> {
  await ctx.host.remove(pendingPath(ctx, suffix));
  await ctx.host.remove(previousPath(ctx, suffix));
}

/** A host file and the content a rollout puts in it. */
export interface RollOutFile {
  readonly path: string;
  readonly value: string;
}

/**
 * The `test` step every kind shares: write the files in place, restart the consumers that read them
 * only at start one at a time with a health wait, prove each sees the new content and passes its
 * probe (rollOut), then the kind's own end-to-end check (`verify`, e.g. "the new password opens
 * Redis"). Idempotent as long as `files` is (it reads the pending value, never generates one).
 */
export function rollOutStep<S extends object>(summary: string, files: (ctx: StepContext<S>) => Promise<readonly RollOutFile[]>, verify?: (ctx: StepContext<S>) => Promise<void>): RotationStep<S> {
  return {
    name: 'test',
    summary,
    async run(ctx) {
      await rollOut(ctx, await files(ctx));
      await verify?.(ctx);
    },
  };
}

/**
 * A rollback's half of it: the previous content back in place, the consumers that read at start
 * restarted one at a time, each probed. Returns the line for the thread (`done` + what restarted).
 */
export async function rollBack(ctx: StepContext<object>, files: readonly RollOutFile[], done: string): Promise<string> {
  await rollOut(ctx, files, { verify: 'probe' });
  const restarted = restartOrder(ctx.secret.consumers);
  return `${done}${restarted.length ? ` and restarted ${restarted.join(', ')}` : ''}.`;
}

/**
 * Writes the value in place (the containers' bind mounts see it at once), restarts the consumers
 * that read it only at start, one at a time with health waits, and proves each consumer sees the
 * value and passes its probe. `files` maps host file → value (e.g. user name and password).
 * Rollbacks pass `verify: 'probe'`.
 */
export async function rollOut(ctx: StepContext<object>, files: readonly RollOutFile[], opts: { verify?: 'full' | 'probe' } = {}): Promise<void> {
  for (const f of files) await ctx.host.writeInPlace(f.path, f.value);
  // Restarts stay strictly one at a time (zero downtime with replicas); a consumer's check (its
  // containers see the file, its probe passes) runs while the next consumer restarts, instead of
  // adding two execs per consumer to the wall time. Every check is awaited before this resolves.
  let previous: Promise<unknown> | undefined;
  for (const c of ctx.secret.consumers) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    if (c.reload === 'restart') {
      ctx.progress(`Restarting ${c.service} (health wait)…`);
      await ctx.consumers.restart(c.service);
    }
    // Settled into a value at once, so a check failing while the next restart runs is never an unhandled rejection.
    const check = checkConsumer(ctx, c, files, opts).then(() => undefined, (err: unknown) => err);
    if (previous) await rethrow(previous);
    previous = check;
  }
  if (previous) await rethrow(previous);
}

async function rethrow(settled: Promise<unknown>): Promise<void> {
  const err = await settled;
  if (err !== undefined) throw err;
}

async function checkConsumer(ctx: StepContext<object>, c: ConsumerSpec, files: readonly RollOutFile[], opts: { verify?: 'full' | 'probe' }): Promise<void> {
  // A rollback only asks the probe: the previous value worked before, and a consumer that cannot see the file is what failed.
  for (const f of opts.verify === 'probe' ? [] : files) {
    if (!(await ctx.consumers.sees(c.service, mountFor(ctx, c, f.path), f.value))) {
      throw new OpsError('ROTATION_FAILED', `${c.service} does not see the new content of ${basename(f.path)} (is it mounted from ${f.path}?).`);
    }
  }
  const argv = c.probe ?? undefined;
  if (argv) {
    const codes = await ctx.consumers.execAll(c.service, argv);
    if (!codes.length || codes.some((x) => x !== 0)) throw new OpsError('ROTATION_FAILED', `${c.service} failed its probe with the new value.`);
  }
}

/** Where a host file is mounted in a consumer: the secret's mountPath for the secret file, else /run/secrets/<basename>. */
function mountFor(ctx: StepContext<object>, c: ConsumerSpec, path: string): string {
  if (path === ctx.secret.file) return mountPathOf(c, path);
  return `/run/secrets/${basename(path)}`;
}

export const restartOrder = (consumers: readonly ConsumerSpec[]) => consumers.filter((c) => c.reload === 'restart').map((c) => c.service);
