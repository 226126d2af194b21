import { OpsError } from '../../shared/errors.ts';
import { ROLLBACK_TARGET_MS, type ClearResult, type RollbackArgs, type RollbackResult } from '../../shared/contracts/rollback.ts';
import type { RollbackEnv } from './env.ts';
import { buildPlan } from './build-plan.ts';
import { executeRollback } from './execute.ts';
import { withStackLock } from '../../shared/lock.ts';
import { rollbackRepo } from './naming.ts';
import { clearPins, pinServices } from './overlay.ts';
import { createTag, protectedTags, prune } from './tagger.ts';
import { takeSnapshot } from './snapshot.ts';

export function lockTtlMs(env: RollbackEnv): number {
  return (env.config.worker.jobTimeoutSeconds + 2 * env.config.rollback.healthTimeoutSeconds + 60) * 1000;
}

/**
 * The rollback: plan again (the approval may be minutes old), tag the current state as
 * pre-rollback-…, replace what differs, pin the result in the overlay, prune old tags.
 */
export async function runRollback(env: RollbackEnv, args: RollbackArgs): Promise<RollbackResult> {
  const started = Date.now();
  const requested = args.tag ?? 'latest';
  if (!env.overlayPath) {
    throw new OpsError('CONFIG_INVALID', 'A rollback pins its result in a compose overlay next to the stack’s compose files, so it needs `stack.composeFiles` (or `rollback.overlayPath`) in the configuration. Nothing was changed.');
  }
  return withStackLock(env.redis, env.store.lockKey, env.requestId, lockTtlMs(env), 'the rollback', async () => {
    const built = await buildPlan(env, requested, args.services);
    const { plan } = built;
    if (args.expectPlan && args.expectPlan !== plan.fingerprint) {
      throw new OpsError('PLAN_CHANGED', `The stack changed since this rollback was approved (plan ${args.expectPlan}, now ${plan.fingerprint}). Nothing was changed: request the rollback again to see the new plan.`);
    }
    for (const service of built.retag) {
      const m = built.manifest.services[service];
      if (m) await env.docker.getImage(m.imageId).tag({ repo: rollbackRepo(env.project, service), tag: built.manifest.tag });
    }
    const changing = plan.items.filter((i) => i.action === 'recreate');
    const pins = Object.fromEntries(plan.items.filter((i) => (i.action === 'recreate' && !i.reason) || i.action === 'unchanged').map((i) => [i.service, i.targetRef]));
    let pre: string | undefined;
    let ok = true;
    let attempts: RollbackResult['attempts'] = [];
    if (changing.length) {
      env.progress(`Tagging the current state before rolling back to ${plan.tag}…`);
      const preTag = await createTag(env, 'pre-rollback', undefined, built.snapshot);
      pre = preTag.manifest.tag;
      env.progress(`Rolling back ${changing.length} service(s) to ${plan.tag}…`);
      const outcome = await executeRollback(env, built, preTag.manifest);
      ok = outcome.ok;
      attempts = outcome.attempts;
    }
    let overlay: RollbackResult['overlay'] = { path: env.overlayPath, written: false, note: 'the rollback was undone, so nothing was pinned' };
    if (ok) {
      try {
        overlay = { path: await pinServices(env, pins), written: true };
      } catch (err) {
        env.log.error({ err }, 'overlay not written');
        overlay = { path: env.overlayPath, written: false, note: `the overlay could not be written (${(err as Error).message.slice(0, 160)}); a \`docker compose up -d\` with the stack’s own files still leaves the rollback in place, see the runbook` };
      }
    }
    try {
      const snapshot = await takeSnapshot(env.docker, env.project);
      const keep = await protectedTags(env, snapshot);
      for (const t of [plan.tag, pre]) if (t) keep.add(t);
      await prune(env, keep);
    } catch (err) {
      env.log.warn({ err }, 'pruning rollback tags failed');
    }
    return { mode: 'rollback', project: env.project, tag: plan.tag, ok, ...(pre ? { preRollbackTag: pre } : {}), plan, attempts, overlay, totalMs: Date.now() - started, targetMs: ROLLBACK_TARGET_MS };
  });
}

/** Unpins: removes the overlay. Running containers are not touched. */
export async function runClear(env: RollbackEnv): Promise<ClearResult> {
  if (!env.overlayPath) throw new OpsError('CONFIG_INVALID', 'There is no overlay to clear: `stack.composeFiles` (or `rollback.overlayPath`) is not set.');
  return withStackLock(env.redis, env.store.lockKey, env.requestId, lockTtlMs(env), '--clear', async () => {
    const { removed, pins, path } = await clearPins(env);
    return { mode: 'clear', project: env.project, overlayPath: path, removed, pins };
  });
}
