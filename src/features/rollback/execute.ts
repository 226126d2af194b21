import type { RollbackAttempt, RollbackManifest, ServiceOutcome, ServiceTiming } from '../../shared/contracts/rollback.ts';
import type { RollbackEnv } from './env.ts';
import type { BuiltPlan } from './build-plan.ts';
import { runInOrder } from './dag.ts';
import { waitReady, type Readiness } from './health.ts';
import type { RollbackJournal } from './journal.ts';
import { shortId } from './naming.ts';
import { createReplacement, cutOver, finishSwap, loadSwap, replacementName, specFor, undoSwap, type Swap } from './recreate.ts';

/** Services recreated at once; the Engine serialises some work anyway, this only bounds the bursts. */
const PARALLEL = 16;

function errorText(err: unknown): string {
  const e = err as { json?: { message?: unknown }; message?: unknown };
  const text = typeof e.json?.message === 'string' ? e.json.message : typeof e.message === 'string' ? e.message : String(err);
  return text.replace(/\s+/g, ' ').slice(0, 240);
}

/** Like Promise.all, but waits for every call before failing: nothing may still be in flight during an undo. */
async function settleAll<T>(calls: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(calls);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

function summarize(results: readonly Readiness[]): { ok: boolean; outcome: ServiceOutcome; detail?: string } {
  const bad = results.find((r): r is Extract<Readiness, { ok: false }> => !r.ok);
  if (bad) return { ok: false, outcome: 'failed', detail: bad.detail };
  return { ok: true, outcome: results.every((r) => r.ok && r.state === 'healthy') ? 'healthy' : 'running' };
}

export interface ExecuteOutcome {
  readonly ok: boolean;
  readonly attempts: RollbackAttempt[];
}

/**
 * Replaces the planned services' containers in dependency order, independent services in
 * parallel, and waits for each to be ready. If any fails, every container touched is put back
 * (the old containers were only parked) and that second attempt is reported too.
 * Every step is journaled before and after it runs, so a worker killed at any point leaves enough
 * for another to finish or revert it (recover.ts).
 */
export async function executeRollback(env: RollbackEnv, built: BuiltPlan, pre: RollbackManifest, journal: RollbackJournal): Promise<ExecuteOutcome> {
  const { docker } = env;
  const timeoutMs = env.config.rollback.healthTimeoutSeconds * 1000;
  const planned = new Map(built.services.filter((p) => p.item.action === 'recreate').map((p) => [p.item.service, p]));
  const swaps = new Map<string, Swap[]>();
  const idMap = new Map<string, string>();
  const timings = new Map<string, ServiceTiming>();
  const done: string[] = [];

  const roll = async (service: string): Promise<boolean> => {
    const p = planned.get(service);
    if (!p) return true;
    const started = Date.now();
    const timing = (outcome: ServiceOutcome, detail?: string) =>
      timings.set(service, { service, containers: p.item.containers, fromImage: p.item.currentImage ?? '', toImage: p.item.targetImage, outcome, ms: Date.now() - started, ...(detail ? { detail } : {}) });
    const own: Swap[] = [];
    swaps.set(service, own);
    try {
      own.push(...(await settleAll(p.containerIds.map((id) => loadSwap(docker, service, id)))));
      for (const s of own) journal.addSwap(s);
      await settleAll(own.map(async (s) => {
        s.newName = replacementName(s);
        const spec = specFor(s, p.item.targetRef, built.manifest.tag, idMap);
        await journal.step('create', { swap: s }, () => createReplacement(docker, s, spec));
        if (s.newId) idMap.set(s.oldId, s.newId);
      }));
      await settleAll(own.map((s) => cutOver(docker, s, (step, fn) => journal.step(step, { swap: s }, fn))));
      const result = summarize(await journal.step('health', { service }, () => Promise.all(own.map((s) => waitReady(docker, s.newId as string, timeoutMs, env.signal)))));
      timing(result.outcome, result.detail);
      if (result.ok) done.push(service);
      env.progress(`Rollback to ${built.manifest.tag}: ${done.length}/${planned.size} services ready${result.ok ? '' : ` · ${service} failed, undoing`}…`);
      return result.ok;
    } catch (err) {
      env.log.warn({ err, service }, 'rollback of a service failed');
      timing('failed', errorText(err));
      return false;
    }
  };

  const started = Date.now();
  const first = await runInOrder(built.plan.order, built.deps, PARALLEL, roll);
  const firstAttempt = attemptOf('rollback', built.plan.order.flat(), timings, first, Date.now() - started, planned);
  if (firstAttempt.ok) {
    await journal.phase('finishing');
    await Promise.all([...swaps.values()].flat().map((s) => journal.step('remove-parked', { swap: s }, () => finishSwap(docker, s)).catch((err: unknown) => env.log.warn({ err, container: s.name }, 'parked container not removed'))));
    return { ok: true, attempts: [firstAttempt] };
  }

  await journal.phase('undoing');
  env.progress(`Rollback to ${built.manifest.tag} failed; restoring the pre-rollback state ${pre.tag}…`);
  const undoTimings = new Map<string, ServiceTiming>();
  const touched = [...swaps.entries()].filter(([, ss]) => ss.some((s) => s.newId || s.stopped)).map(([svc]) => svc);
  const undo = async (service: string): Promise<boolean> => {
    const own = swaps.get(service) ?? [];
    const p = planned.get(service);
    const undoStarted = Date.now();
    const ref = pre.services[service]?.ref ?? own[0]?.old.Config.Image ?? '';
    const record = (outcome: ServiceOutcome, detail?: string) =>
      undoTimings.set(service, { service, containers: own.map((s) => s.name), fromImage: p?.item.targetImage ?? '', toImage: pre.services[service]?.imageId ?? p?.item.currentImage ?? '', outcome, ms: Date.now() - undoStarted, ...(detail ? { detail } : {}) });
    try {
      const ids = await settleAll(own.map((s) => journal.step('undo', { swap: s }, () => undoSwap(docker, s, ref, pre.tag))));
      // The undo is the safety net: it gets its own time budget even when the job's is spent.
      const result = summarize(await Promise.all(ids.filter((id): id is string => Boolean(id)).map((id) => waitReady(docker, id, timeoutMs))));
      record(result.ok ? 'restored' : 'failed', result.detail);
      return result.ok;
    } catch (err) {
      env.log.error({ err, service }, 'restoring a service failed');
      record('failed', errorText(err));
      return false;
    }
  };
  const undoStarted = Date.now();
  const touchedSet = new Set(touched);
  const undoOrder = built.plan.order.map((w) => w.filter((s) => touchedSet.has(s))).filter((w) => w.length);
  const second = await runInOrder(undoOrder, built.deps, PARALLEL, undo, true);
  const secondAttempt = attemptOf('revert', touched, undoTimings, second, Date.now() - undoStarted, planned);
  return { ok: false, attempts: [firstAttempt, secondAttempt] };
}

function attemptOf(
  kind: 'rollback' | 'revert',
  services: readonly string[],
  timings: ReadonlyMap<string, ServiceTiming>,
  outcomes: ReadonlyMap<string, string>,
  ms: number,
  planned: ReadonlyMap<string, { item: { containers: readonly string[]; currentImage?: string; targetImage: string } }>,
): RollbackAttempt {
  const list = services.map((service): ServiceTiming => {
    const t = timings.get(service);
    if (t) return t;
    const p = planned.get(service);
    return { service, containers: p?.item.containers ?? [], fromImage: p?.item.currentImage ?? '', toImage: p?.item.targetImage ?? '', outcome: 'not-started', ms: 0 };
  });
  const ok = [...outcomes.values()].every((o) => o === 'ok');
  return { kind, ok, ms, services: list.map((t) => ({ ...t, fromImage: shortId(t.fromImage), toImage: shortId(t.toImage) })) };
}
