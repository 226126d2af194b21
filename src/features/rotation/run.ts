import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../shared/config/schema.ts';
import { OpsError } from '../../shared/errors.ts';
import { Queue } from 'bullmq';
import type { JobEnvelope } from '../../shared/contracts/envelope.ts';
import { envelopeTarget, keyPrefix, openJobsQueue } from '../../shared/queue/names.ts';
import { consumerOps, DowntimeProbe } from './consumers.ts';
import type { Journal, RotationKind, RotationMode, RotationResult, RotationStep, SecretHost, SecretSpec, StepContext } from './engine.ts';
import { RotationJournal } from './journal.ts';
import { kindFor, managedSecret } from './registry.ts';
import { stackSecretHost } from './secret-host.ts';
import { pausePoint } from './test-pause.ts';

export interface RotationDeps {
  readonly config: Config;
  readonly docker: Docker;
  readonly redis: Redis;
  readonly log: Logger;
  /** Identifies this worker in the lease and the journal. */
  readonly workerId: string;
  readonly signal: AbortSignal;
  progress(text: string): void;
  /** Other hosts for multi-host kinds; default: none. */
  openHost?(name: string): Promise<SecretHost>;
}

export interface RotationRequest {
  readonly secret: string;
  readonly mode: RotationMode;
  readonly requestId: string;
  readonly command: string;
  readonly args: Record<string, unknown>;
  readonly origin: Journal['origin'];
  readonly actor: Journal['actor'];
}

/** Rotations this process is driving: its own recovery check must never take them over. */
const driving = new Set<string>();
export const isDrivenHere = (secret: string): boolean => driving.has(secret);

/** A lease owner per drive (not per process): a renewal fails the moment anyone else holds it. */
export const leaseOwner = (workerId: string): string => `${workerId}#${randomBytes(4).toString('hex')}`;

/** Retries of a step past the point of no return before the rotation is declared stuck. */
const FORWARD_RETRIES = 3;

export function stepsOf(kind: RotationKind<object>, mode: RotationMode): readonly RotationStep<object>[] {
  if (mode === 'rotate') return kind.steps;
  const def = kind.modes?.[mode];
  if (!def) throw new OpsError('BAD_ARGUMENTS', `Secrets of kind ${kind.kind} have no --${mode}.`);
  return def.steps;
}

function userMessage(err: unknown): string {
  return err instanceof OpsError ? err.userMessage : 'an unexpected error (the worker log has it under the request id)';
}

export function resultOf(j: Journal, resumed: boolean): RotationResult {
  return {
    mode: (j.args.mode as RotationMode | undefined) ?? 'rotate',
    secret: j.secret,
    kind: j.kind,
    status: j.status,
    steps: j.stepsDone,
    probes: j.probes,
    notes: j.notes,
    resumed,
    totalMs: (j.finishedAt ?? Date.now()) - j.startedAt,
    ...(j.error ? { error: j.error } : {}),
  };
}

/** Starts a rotation (refused while another of the same secret is active) and drives it to the end. */
export async function startRotation(deps: RotationDeps, req: RotationRequest): Promise<RotationResult> {
  const spec = managedSecret(deps.config, req.secret);
  const kind = kindFor(spec);
  stepsOf(kind, req.mode);
  const journal: Journal = {
    id: req.requestId, secret: spec.name, kind: spec.kind, step: 0, phase: 'forward', status: 'running',
    state: kind.initialState(spec) as Record<string, unknown>, requestId: req.requestId, command: req.command,
    args: { ...req.args, mode: req.mode }, origin: req.origin, actor: req.actor, startedAt: Date.now(),
    stepsDone: [], notes: [], probes: [], workers: [deps.workerId],
  };
  const store = new RotationJournal(deps.redis, keyPrefix(deps.config));
  const owner = leaseOwner(deps.workerId);
  await store.begin(journal, owner, deps.config.rotation.leaseSeconds * 1000);
  return drive(deps, store, journal, false, owner);
}

/** Continues a rotation whose worker died (the caller claimed its lease). */
export async function resumeRotation(deps: RotationDeps, secret: string, owner: string): Promise<RotationResult | undefined> {
  const store = new RotationJournal(deps.redis, keyPrefix(deps.config));
  const journal = await store.get(secret);
  if (!journal || journal.status !== 'running') {
    await deps.redis.srem(store.activeKey, secret);
    return undefined;
  }
  journal.workers.push(deps.workerId);
  const where = journal.phase === 'rollback' ? 'while rolling back' : `before step ${journal.step + 1}`;
  journal.notes.push(`The worker running this rotation stopped ${where}; worker ${deps.workerId} took over.`);
  await store.save(journal);
  return drive(deps, store, journal, true, owner);
}

/** The context steps see; `close` closes the hosts it opened. */
export function makeContext(deps: RotationDeps, spec: SecretSpec, journal: Pick<Journal, 'id' | 'state'>, signal: AbortSignal, persist: (j: never) => Promise<void>): { ctx: StepContext<Record<string, unknown>>; close(): Promise<void> } {
  const { config, docker, log } = deps;
  const kind = kindFor(spec);
  const host = stackSecretHost(config);
  const opened: SecretHost[] = [];
  const queue = (): Queue => {
    // The target's own queue: the follow-up (e.g. the end of an api-key window) runs on this stack's worker.
    const q = openJobsQueue(config, deps.redis, log);
    return q;
  };
  const ctx: StepContext<Record<string, unknown>> = {
    rotationId: journal.id, secret: spec, options: kind.options.parse(spec.options), host, stateDir: config.rotation.stateDir, docker, project: config.stack.project,
    consumers: consumerOps(docker, config.stack.project, config.rotation.healthTimeoutSeconds * 1000, signal),
    log: log.child({ rotation: journal.id, secret: spec.name }), signal, progress: deps.progress,
    get state() {
      return journal.state;
    },
    async save(patch) {
      journal.state = { ...journal.state, ...patch };
      await persist(journal as never);
    },
    async openHost(name) {
      if (!deps.openHost) throw new OpsError('CONFIG_INVALID', `This worker cannot reach host ${name} for rotations.`);
      const h = await deps.openHost(name);
      opened.push(h);
      return h;
    },
    async schedule(key, job, args, runAt) {
      const q = queue();
      try {
        const jobId = `rotation-${key.replace(/[^a-zA-Z0-9_-]/g, '-')}`;
        await q.remove(jobId).catch(() => 0);
        const envelope: JobEnvelope = { requestId: jobId.slice(0, 64), command: job, args, actor: { userId: 'local:scheduler', teamId: 'local', name: 'rotation' }, origin: { kind: 'schedule' }, requestedAt: Date.now(), ...envelopeTarget(config) };
        await q.add(job, envelope, { jobId, delay: Math.max(0, runAt - Date.now()), removeOnComplete: 50, removeOnFail: 50 });
      } finally {
        await q.close();
      }
    },
    async unschedule(key) {
      const q = queue();
      try {
        await q.remove(`rotation-${key.replace(/[^a-zA-Z0-9_-]/g, '-')}`).catch(() => 0);
      } finally {
        await q.close();
      }
    },
  };
  return {
    ctx,
    async close() {
      await host.close().catch(() => undefined);
      for (const h of opened) await h.close().catch(() => undefined);
    },
  };
}

/** `--setup`'s dry run (read-only), for the plan job. */
export async function dryRun(deps: RotationDeps, secret: string, mode: 'setup' | 'finish'): Promise<string[] | undefined> {
  const spec = managedSecret(deps.config, secret);
  const kind = kindFor(spec);
  if (!kind.dryRun) return undefined;
  const { ctx, close } = makeContext(deps, spec, { id: 'dry-run', state: {} }, deps.signal, async () => undefined);
  try {
    return await kind.dryRun(ctx, mode);
  } finally {
    await close();
  }
}

async function drive(deps: RotationDeps, store: RotationJournal, journal: Journal, resumed: boolean, owner: string): Promise<RotationResult> {
  driving.add(journal.secret);
  try {
    return await driveSteps(deps, store, journal, resumed, owner);
  } finally {
    driving.delete(journal.secret);
  }
}

async function driveSteps(deps: RotationDeps, store: RotationJournal, journal: Journal, resumed: boolean, owner: string): Promise<RotationResult> {
  const { config, docker } = deps;
  const spec: SecretSpec = managedSecret(config, journal.secret);
  const kind = kindFor(spec);
  const mode = (journal.args.mode as RotationMode | undefined) ?? 'rotate';
  const steps = stepsOf(kind, mode);
  const rollback = (mode !== 'rotate' ? kind.modes?.[mode]?.rollback : undefined) ?? kind.rollback.bind(kind);
  const leaseMs = config.rotation.leaseSeconds * 1000;
  const lost = new AbortController();
  const signal = AbortSignal.any([deps.signal, lost.signal]);
  const { ctx, close } = makeContext(deps, spec, journal, signal, (j) => store.save(j));
  const { host } = ctx;
  const renew = setInterval(() => {
    store.renew(journal.secret, owner, leaseMs).then((ok) => {
      if (!ok) lost.abort(new OpsError('ROTATION_FAILED', 'Another worker took over this rotation.'));
    }, () => undefined);
  }, Math.max(200, leaseMs / 3));
  const probes = spec.consumers.map((c) => new DowntimeProbe(docker, config.stack.project, c, journal.probes.find((p) => p.service === c.service)).start());
  const pauseKey = store.pausedKey(journal.secret);
  try {
    await host.ensureDir?.(config.rotation.stateDir);
    const ponr = steps.findIndex((s) => s.pointOfNoReturn);
    while (journal.phase === 'forward' && journal.step < steps.length) {
      const step = steps[journal.step] as RotationStep<object>;
      await pausePoint(deps.redis, pauseKey, step.name, 'before', signal);
      deps.progress(`Step ${journal.step + 1}/${steps.length}: ${step.name}…`);
      const began = Date.now();
      let failure: unknown;
      const forwardOnly = ponr >= 0 && journal.step >= ponr;
      for (let attempt = 0; attempt < (forwardOnly ? FORWARD_RETRIES : 1); attempt++) {
        try {
          if (signal.aborted) throw signal.reason;
          await step.run(ctx);
          failure = undefined;
          break;
        } catch (err) {
          failure = err;
          ctx.log.warn({ step: step.name, attempt, err: err instanceof OpsError ? err.userMessage : (err as Error).message }, 'rotation step failed');
        }
      }
      if (failure !== undefined) {
        journal.error = `${step.name}: ${userMessage(failure)}`;
        if (forwardOnly) {
          journal.status = 'failed';
          journal.notes.push(`Step ${step.name} failed after the old value was revoked; the new value is in place. Finish it by hand (runbooks/secret-rotation.md).`);
          break;
        }
        journal.phase = 'rollback';
        await store.save(journal);
        break;
      }
      await pausePoint(deps.redis, pauseKey, step.name, 'after', signal);
      journal.stepsDone.push({ name: step.name, ms: Date.now() - began });
      journal.step += 1;
      await store.save(journal);
    }
    if (journal.phase === 'rollback') {
      await pausePoint(deps.redis, pauseKey, 'rollback', 'before', signal);
      deps.progress('Rolling back to the previous value…');
      try {
        const began = Date.now();
        journal.notes.push(...(await rollback(ctx)));
        journal.stepsDone.push({ name: 'rollback', ms: Date.now() - began });
        journal.status = 'rolled-back';
      } catch (err) {
        journal.status = 'failed';
        journal.notes.push(`The rollback did not complete: ${userMessage(err)}. See runbooks/secret-rotation.md.`);
      }
    } else if (journal.status === 'running') {
      journal.status = 'succeeded';
      journal.notes.push(...(kind.after?.(ctx) ?? []));
    }
  } finally {
    clearInterval(renew);
    journal.probes = await Promise.all(probes.map((p) => p.stop()));
    await close();
  }
  journal.finishedAt = Date.now();
  if (lost.signal.aborted) return resultOf(journal, resumed);
  await store.end(journal, owner);
  return resultOf(journal, resumed);
}
