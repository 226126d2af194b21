import { OpsError } from '../../shared/errors.ts';
import { ROLLBACK_TARGET_MS, type ClearResult, type RollbackArgs, type RollbackResult } from '../../shared/contracts/rollback.ts';
import type { RollbackEnv } from './env.ts';
import { buildPlan } from './build-plan.ts';
import { executeRollback } from './execute.ts';
import { CONTAINER_STEPS, RollbackJournal } from './journal.ts';
import { withStackLock } from './stack-lock.ts';
import { rollbackRepo } from './naming.ts';
import { clearPins, pin, readPins } from './overlay.ts';
import { choosePins } from './pins.ts';
import { createTag, protectedTags, prune } from './tagger.ts';
import { takeSnapshot } from './snapshot.ts';

/**
 * Ends the journal once the job's result has been sent (the worker calls back), so that a worker
 * killed between "done" and "told" still leaves a journal for a recoverer to report from.
 */
async function endAfterReport(env: RollbackEnv, journal: RollbackJournal, outcome: string): Promise<void> {
  if (env.afterReport) env.afterReport(() => journal.end(outcome));
  else await journal.end(outcome);
}

/** A failure inside the journaled part: nothing touched ends the journal; anything touched is left to a recoverer. */
async function onFailure(env: RollbackEnv, journal: RollbackJournal): Promise<void> {
  if (journal.data.log.some((e) => CONTAINER_STEPS.includes(e.step))) {
    env.log.error({ requestId: env.requestId }, 'rollback failed half-way; leaving its journal to the recovery sweeper');
    journal.abandon();
  } else {
    await endAfterReport(env, journal, 'refused').catch((err: unknown) => env.log.warn({ err }, 'journal not ended'));
  }
}

/**
 * The rollback: plan again (the approval may be minutes old), tag the current state as
 * pre-rollback-…, replace what differs, pin the result in the overlay, prune old tags.
 * Journaled from start to report (journal.ts); the stack lock follows this worker's liveness.
 */
export async function runRollback(env: RollbackEnv, args: RollbackArgs): Promise<RollbackResult> {
  const started = Date.now();
  const requested = args.tag ?? 'latest';
  if (!env.overlayPath) {
    throw new OpsError('CONFIG_INVALID', 'A rollback pins its result in a compose overlay next to the stack’s compose files, so it needs `stack.composeFiles` (or `rollback.overlayPath`) in the configuration. Nothing was changed.');
  }
  return withStackLock(env, 'the rollback', async (lock) => {
    const journal = await RollbackJournal.open(env, 'rollback', args, lock);
    try {
      const result = await journaledRollback(env, args, journal, requested, started);
      await journal.phase('reporting', { result });
      await endAfterReport(env, journal, result.ok ? 'done' : 'reverted');
      return result;
    } catch (err) {
      await onFailure(env, journal);
      throw err;
    }
  });
}

async function journaledRollback(env: RollbackEnv, args: RollbackArgs, journal: RollbackJournal, requested: string, started: number): Promise<RollbackResult> {
  const built = await journal.step('plan', {}, () => buildPlan(env, requested, args.services));
  const { plan } = built;
  if (args.expectPlan && args.expectPlan !== plan.fingerprint) {
    throw new OpsError('PLAN_CHANGED', `The stack changed since this rollback was approved (plan ${args.expectPlan}, now ${plan.fingerprint}). Nothing was changed: request the rollback again to see the new plan.`);
  }
  const { pins, note } = choosePins(plan.items, built.declared);
  await journal.phase('tagging', { plan, pins, ...(note ? { pinNote: note } : {}), ...(built.declared ? { declared: [...built.declared] } : {}) });
  for (const service of built.retag) {
    const m = built.manifest.services[service];
    if (m) await env.docker.getImage(m.imageId).tag({ repo: rollbackRepo(env.project, service), tag: built.manifest.tag });
  }
  const changing = plan.items.filter((i) => i.action === 'recreate');
  let pre: string | undefined;
  let ok = true;
  let attempts: RollbackResult['attempts'] = [];
  if (changing.length) {
    env.progress(`Tagging the current state before rolling back to ${plan.tag}…`);
    const preTag = await journal.step('pre-rollback-tag', {}, () => createTag(env, 'pre-rollback', undefined, built.snapshot));
    pre = preTag.manifest.tag;
    await journal.phase('rolling', { preTag: pre });
    env.progress(`Rolling back ${changing.length} service(s) to ${plan.tag}…`);
    const outcome = await executeRollback(env, built, preTag.manifest, journal);
    ok = outcome.ok;
    attempts = outcome.attempts;
  }
  const overlay = ok ? await pin(env, journal, pins, built.declared, note) : { path: env.overlayPath, written: false, note: 'the rollback was undone, so nothing was pinned' };
  try {
    const snapshot = await takeSnapshot(env.docker, env.project);
    const keep = await protectedTags(env, snapshot);
    for (const t of [plan.tag, pre]) if (t) keep.add(t);
    await prune(env, keep);
  } catch (err) {
    env.log.warn({ err }, 'pruning rollback tags failed');
  }
  return { mode: 'rollback', project: env.project, tag: plan.tag, ok, ...(pre ? { preRollbackTag: pre } : {}), plan, attempts, overlay, totalMs: Date.now() - started, targetMs: ROLLBACK_TARGET_MS };
}

/** Unpins: removes the overlay. Running containers are not touched. */
export async function runClear(env: RollbackEnv): Promise<ClearResult> {
  if (!env.overlayPath) throw new OpsError('CONFIG_INVALID', 'There is no overlay to clear: `stack.composeFiles` (or `rollback.overlayPath`) is not set.');
  return withStackLock(env, '--clear', async (lock) => {
    const journal = await RollbackJournal.open(env, 'rollback-clear', { clear: true }, lock);
    try {
      await journal.phase('unpinning', { cleared: { ...(await readPins(env)) } });
      const { removed, pins, path } = await journal.step('unpin', {}, () => clearPins(env));
      const result: ClearResult = { mode: 'clear', project: env.project, overlayPath: path, removed, pins };
      await journal.phase('reporting', { result });
      await endAfterReport(env, journal, 'done');
      return result;
    } catch (err) {
      await onFailure(env, journal);
      throw err;
    }
  });
}
