import { randomBytes } from 'node:crypto';
import type { HeldLock } from '../../shared/lock.ts';
import { OpsError } from '../../shared/errors.ts';
import { keyPrefix } from '../../shared/queue/names.ts';
import { DowntimeProbe } from './consumers.ts';
import type { Journal, RotationKind, RotationMode, RotationResult, RotationStep, SecretSpec } from './engine.ts';
import { LeaseLostError, RotationJournal } from './journal.ts';
import { kindFor, managedSecret } from './registry.ts';
import { makeContext, type RotationDeps } from './step-context.ts';
import { pausePoint } from './test-pause.ts';

export type { RotationDeps } from './step-context.ts';

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
  const lock = await store.begin(journal, leaseOwner(deps.workerId), deps.config.rotation.leaseSeconds * 1000);
  const result = await drive(deps, store, journal, false, lock);
  if (!result) throw handedOver(spec.name);
  return result;
}

/** Continues a rotation whose worker died; the caller took its lock over (RotationJournal.claim). Undefined: nothing to report (ended, or handed on). */
export async function resumeRotation(deps: RotationDeps, secret: string, lock: HeldLock): Promise<RotationResult | undefined> {
  const store = new RotationJournal(deps.redis, keyPrefix(deps.config));
  const journal = await store.get(secret);
  if (!journal || journal.status !== 'running') {
    // Killed between its last journal write and leaving the active set: nothing left to drive.
    await store.forgetActive(secret);
    await lock.release();
    return undefined;
  }
  journal.workers.push(deps.workerId);
  const where = journal.phase === 'rollback' ? 'while rolling back' : `before step ${journal.step + 1}`;
  journal.notes.push(`The worker running this rotation stopped ${where}; worker ${deps.workerId} took over.`);
  try {
    await store.save(journal, lock);
  } catch (err) {
    await lock.release();
    throw err;
  }
  return drive(deps, store, journal, true, lock);
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

/** Drives to the end; undefined when handed over (lock lost, or this worker is stopping). */
async function drive(deps: RotationDeps, store: RotationJournal, journal: Journal, resumed: boolean, lock: HeldLock): Promise<RotationResult | undefined> {
  driving.add(journal.secret);
  try {
    return await driveSteps(deps, store, journal, resumed, lock);
  } catch (err) {
    // The worker that took over (or the next one) finishes it from the journal and reports.
    if (err instanceof LeaseLostError || lock.lost.aborted) return undefined;
    throw err;
  } finally {
    // Ended: already released. Otherwise the next worker (or this one's recovery) takes over at once.
    await lock.release().catch(() => undefined);
    driving.delete(journal.secret);
  }
}

const handedOver = (secret: string) => new OpsError('HANDED_OVER', `This worker stopped driving the rotation of \`${secret}\` (it is shutting down or lost its lock); another worker finishes or rolls it back from the journal and reports here.`);

/** Stops a drive whose lock is gone before it changes anything more. */
function assertHeld(lock: HeldLock): void {
  if (lock.lost.aborted) throw new LeaseLostError();
}

async function driveSteps(deps: RotationDeps, store: RotationJournal, journal: Journal, resumed: boolean, lock: HeldLock): Promise<RotationResult> {
  const { config, docker } = deps;
  const spec: SecretSpec = managedSecret(config, journal.secret);
  const kind = kindFor(spec);
  const mode = (journal.args.mode as RotationMode | undefined) ?? 'rotate';
  const steps = stepsOf(kind, mode);
  const rollback = (mode !== 'rotate' ? kind.modes?.[mode]?.rollback : undefined) ?? kind.rollback.bind(kind);
  const signal = AbortSignal.any([deps.signal, lock.lost]);
  const save = () => store.save(journal, lock);
  const { ctx, close } = makeContext(deps, spec, journal, signal, save);
  const { host } = ctx;
  const probes = spec.consumers.map((c) => new DowntimeProbe(docker, config.stack.project, c, journal.probes.find((p) => p.service === c.service)).start());
  const pauseKey = store.pausedKey(journal.secret);
  try {
    await host.ensureDir?.(config.rotation.stateDir);
    const ponr = steps.findIndex((s) => s.pointOfNoReturn);
    while (journal.phase === 'forward' && journal.step < steps.length) {
      const step = steps[journal.step] as RotationStep<object>;
      await pausePoint(deps.redis, pauseKey, step.name, 'before', signal);
      assertHeld(lock);
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
      // A step cut short because the lock went, or because this worker is stopping, is not a failure
      // of the step: it is left unrecorded and the next holder runs it again (steps are idempotent).
      assertHeld(lock);
      if (deps.signal.aborted) throw new LeaseLostError();
      if (failure !== undefined) {
        journal.error = `${step.name}: ${userMessage(failure)}`;
        if (forwardOnly) {
          journal.status = 'failed';
          journal.notes.push(`Step ${step.name} failed after the old value was revoked; the new value is in place. Finish it by hand (runbooks/secret-rotation.md).`);
          break;
        }
        journal.phase = 'rollback';
        await save();
        break;
      }
      await pausePoint(deps.redis, pauseKey, step.name, 'after', signal);
      assertHeld(lock);
      journal.stepsDone.push({ name: step.name, ms: Date.now() - began });
      journal.step += 1;
      await save();
    }
    if (journal.phase === 'rollback') {
      await pausePoint(deps.redis, pauseKey, 'rollback', 'before', signal);
      assertHeld(lock);
      deps.progress('Rolling back to the previous value…');
      try {
        const began = Date.now();
        journal.notes.push(...(await rollback(ctx)));
        journal.stepsDone.push({ name: 'rollback', ms: Date.now() - began });
        journal.status = 'rolled-back';
      } catch (err) {
        assertHeld(lock);
        if (deps.signal.aborted) throw new LeaseLostError();
        journal.status = 'failed';
        journal.notes.push(`The rollback did not complete: ${userMessage(err)}. See runbooks/secret-rotation.md.`);
      }
    } else if (journal.status === 'running') {
      journal.status = 'succeeded';
      journal.notes.push(...(kind.after?.(ctx) ?? []));
    }
  } finally {
    // Stopped while the lock is still renewed: a probe answering late must not let the lock lapse.
    journal.probes = await Promise.all(probes.map((p) => p.stop()));
    await close();
  }
  journal.finishedAt = Date.now();
  assertHeld(lock);
  await store.end(journal, lock);
  return resultOf(journal, resumed);
}
