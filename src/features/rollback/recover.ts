import type Docker from 'dockerode';
import { ROLLBACK_TARGET_MS, type ClearResult, type RollbackJobResult, type RollbackPlan, type RollbackRecovery, type RollbackResult } from '../../shared/contracts/rollback.ts';
import { keyPrefix } from '../../shared/queue/names.ts';
import { endJournal, PROCESS_OWNER } from '../../shared/journal.ts';
import { finishApproval, report, type SendReply } from './recover-report.ts';
import type { RollbackEnv } from './env.ts';
import { waitReady } from './health.ts';
import { CONTAINER_STEPS, type RollbackJournalData, type SwapRecord } from './journal.ts';
import { shortId } from './naming.ts';
import { clearPins, pin } from './overlay.ts';
import { takeSnapshot } from './snapshot.ts';

export type { SendReply } from './recover-report.ts';

type ServiceOutcome = RollbackRecovery['services'][number];

function statusCode(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown }).statusCode;
  return typeof code === 'number' ? code : undefined;
}

async function inspect(docker: Docker, idOrName: string): Promise<Docker.ContainerInspectInfo | undefined> {
  try {
    return await docker.getContainer(idOrName).inspect();
  } catch (err) {
    if (statusCode(err) === 404) return undefined;
    throw err;
  }
}

async function removeContainer(docker: Docker, id: string): Promise<boolean> {
  try {
    await docker.getContainer(id).remove({ force: true, v: false });
    return true;
  } catch (err) {
    if (statusCode(err) === 404) return false;
    throw err;
  }
}

const nameOf = (info: Docker.ContainerInspectInfo) => info.Name.replace(/^\//, '');

/** The step the owner was in (begun, not finished), else the last one it finished. */
export function interruptedAt(j: RollbackJournalData): string {
  const finished = new Set(j.log.filter((e) => e.phase !== 'begin').map((e) => `${e.step}|${e.container ?? e.service ?? ''}`));
  const open = [...j.log].reverse().find((e) => e.phase === 'begin' && !finished.has(`${e.step}|${e.container ?? e.service ?? ''}`));
  const describe = (e: { step: string; service?: string; container?: string }) =>
    `\`${e.step}\`${e.service ? ` of ${e.service}` : ''}${e.container ? ` (${e.container})` : ''}`;
  if (open) return `at ${describe(open)}`;
  const last = j.log.at(-1);
  return last ? `after ${describe(last)}` : `while ${j.phase}`;
}

/** Whether every planned replacement runs under its service's name and becomes ready. */
async function canFinish(env: RollbackEnv, j: RollbackJournalData): Promise<boolean> {
  const planned = (j.plan?.items ?? []).filter((i) => i.action === 'recreate');
  if (!planned.length) return false;
  if (planned.some((i) => j.swaps.filter((s) => s.service === i.service).length !== i.containers.length)) return false;
  for (const s of j.swaps) {
    const n = s.newId ? await inspect(env.docker, s.newId) : undefined;
    if (!n || nameOf(n) !== s.name || !n.State.Running) return false;
    const old = await inspect(env.docker, s.oldId);
    if (old && nameOf(old) === s.name) return false;
  }
  const timeoutMs = env.config.rollback.healthTimeoutSeconds * 1000;
  const ready = await Promise.all(j.swaps.map((s) => waitReady(env.docker, s.newId as string, timeoutMs)));
  return ready.every((r) => r.ok);
}

/** Puts one container back as it was, from whatever state the dead worker left it in. */
async function revertSwap(env: RollbackEnv, j: RollbackJournalData, s: SwapRecord, removed: string[]): Promise<{ ok: boolean; detail?: string }> {
  const { docker } = env;
  // The replacement goes: by ID, else by the temporary name journaled before it was created.
  const replacement = s.newId ?? (s.newName ? (await inspect(docker, s.newName))?.Id : undefined);
  if (replacement && replacement !== s.oldId && (await removeContainer(docker, replacement))) removed.push(s.newName ?? replacement.slice(0, 12));
  const old = await inspect(docker, s.oldId);
  if (!old) return { ok: false, detail: `the previous container ${s.name} is gone (removed by hand?); \`docker compose up -d\` recreates it` };
  // A stop the dead worker had sent may still be under way: let it end before starting again.
  const stopSent = j.log.some((e) => e.step === 'stop' && e.container === s.name);
  if (stopSent && old.State.Running) {
    await docker.getContainer(s.oldId).stop({ t: s.stopTimeout }).catch((err: unknown) => {
      if (statusCode(err) !== 304) throw err;
    });
  }
  if (nameOf(old) !== s.name) await docker.getContainer(s.oldId).rename({ name: s.name });
  const policy = s.restartPolicy;
  if (policy?.Name && old.HostConfig.RestartPolicy?.Name !== policy.Name) {
    await docker.getContainer(s.oldId).update({ RestartPolicy: { Name: policy.Name, MaximumRetryCount: policy.MaximumRetryCount ?? 0 } });
  }
  if (!s.wasRunning) return { ok: true };
  await docker.getContainer(s.oldId).start().catch((err: unknown) => {
    if (statusCode(err) !== 304) throw err;
  });
  const ready = await waitReady(docker, s.oldId, env.config.rollback.healthTimeoutSeconds * 1000);
  return ready.ok ? { ok: true } : { ok: false, detail: ready.detail };
}

function servicesOf(j: RollbackJournalData): string[] {
  const fromPlan = (j.plan?.items ?? []).filter((i) => i.action === 'recreate').map((i) => i.service);
  return [...new Set([...fromPlan, ...j.swaps.map((s) => s.service)])].sort();
}

/** Service by service, what runs under the project's labels now. */
async function servingNow(env: RollbackEnv, services: readonly string[]): Promise<RollbackRecovery['serving']> {
  const snapshot = await takeSnapshot(env.docker, env.project);
  const out: Array<RollbackRecovery['serving'][number]> = [];
  for (const service of services) {
    const cs = snapshot.services.get(service) ?? [];
    if (!cs.length) out.push({ service, container: '-', image: '-', ref: '-', state: 'no container' });
    for (const c of cs) {
      const info = await inspect(env.docker, c.id);
      const state = info ? (info.State.Health?.Status ?? info.State.Status) : 'gone';
      out.push({ service, container: c.name, image: shortId(c.imageId), ref: info?.Config.Image ?? c.imageRef, state });
    }
  }
  return out;
}

function stubPlan(env: RollbackEnv, j: RollbackJournalData): RollbackPlan {
  const requested = j.args.tag ?? 'latest';
  return { project: env.project, tag: requested, requested, taggedAt: '', taggedBy: '', items: [], order: [], fingerprint: '0000000000000000' };
}

async function recoverRollback(env: RollbackEnv, j: RollbackJournalData): Promise<RollbackResult> {
  const { docker } = env;
  const at = interruptedAt(j);
  const plan = j.plan ?? stubPlan(env, j);
  const removed: string[] = [];
  const services: ServiceOutcome[] = [];
  const touched = j.log.some((e) => CONTAINER_STEPS.includes(e.step));
  let outcome: RollbackRecovery['outcome'];
  let overlay: RollbackResult['overlay'] = { path: env.overlayPath, written: false, note: 'the rollback was undone, so nothing was pinned' };
  if (!touched) {
    outcome = 'nothing-changed';
    overlay = { path: env.overlayPath, written: false, note: 'nothing was changed, so nothing was pinned' };
  } else if (j.phase === 'finishing' || (j.phase === 'rolling' && (await canFinish(env, j)))) {
    // Every replacement runs and is healthy: the rollback is done but for its cleanup and pin.
    for (const s of j.swaps) {
      const old = await inspect(docker, s.oldId);
      if (old && nameOf(old) !== s.name && (await removeContainer(docker, s.oldId))) removed.push(nameOf(old));
    }
    for (const service of servicesOf(j)) services.push({ service, outcome: 'rolled back' });
    const declared = j.declared ? new Set(j.declared) : undefined;
    overlay = await pin(env, undefined, j.pins ?? {}, declared, j.pinNote);
    outcome = 'finished';
  } else {
    // Anything less is put back, dependencies first, exactly as the in-process undo would.
    const order = [...plan.order.flat(), ...j.swaps.map((s) => s.service)];
    for (const service of [...new Set(order)]) {
      const own = j.swaps.filter((s) => s.service === service);
      if (!own.length) continue;
      const results = [];
      for (const s of own) {
        try {
          results.push(await revertSwap(env, j, s, removed));
        } catch (err) {
          env.log.error({ err, container: s.name }, 'recovery could not restore a container');
          results.push({ ok: false, detail: (err as Error).message.slice(0, 200) });
        }
      }
      const bad = results.find((r) => !r.ok);
      services.push(bad ? { service, outcome: 'failed', ...(bad.detail ? { detail: bad.detail } : {}) } : { service, outcome: 'restored' });
    }
    outcome = services.every((s) => s.outcome === 'restored') ? 'reverted' : 'partial';
  }
  const recovery: RollbackRecovery = { interruptedAt: at, outcome, by: PROCESS_OWNER, services, serving: await servingNow(env, servicesOf(j)), removed };
  return {
    mode: 'rollback', project: env.project, tag: plan.tag, ok: outcome === 'finished', ...(j.preTag ? { preRollbackTag: j.preTag } : {}),
    plan, attempts: [], overlay, totalMs: Date.now() - j.startedAt, targetMs: ROLLBACK_TARGET_MS, recovery,
  };
}

async function recoverClear(env: RollbackEnv, j: RollbackJournalData): Promise<ClearResult> {
  const { removed, pins, path } = await clearPins(env);
  const before = j.cleared ?? {};
  return { mode: 'clear', project: env.project, overlayPath: path, removed: removed || Object.keys(before).length > 0, pins: Object.keys(pins).length ? pins : before };
}

/**
 * Finishes or reverts a rollback whose worker died, from its journal and what the Engine shows
 * now (every action is idempotent, so a recoverer that dies too is simply followed by another):
 * a serving container per service, no `_cdb-new-`/`_cdb-parked-` leftovers of it, the pin written
 * (finished) or not (reverted), the approval final, the thread told. The caller holds the stack lock.
 */
export async function recoverJournal(base: RollbackEnv, j: RollbackJournalData, send: SendReply): Promise<RollbackJobResult> {
  const env: RollbackEnv = { ...base, requestId: j.id, actor: j.actor, log: base.log.child({ recovering: j.id }) };
  env.log.warn({ phase: j.phase, owner: j.owner, at: interruptedAt(j) }, 'recovering a rollback whose worker stopped');
  const result: RollbackJobResult =
    j.phase === 'reporting' && j.result ? j.result : j.kind === 'rollback-clear' ? await recoverClear(env, j) : await recoverRollback(env, j);
  await finishApproval(env, j, result);
  await report(send, j, result);
  const outcome = result.mode === 'clear' ? 'recovered: cleared' : `recovered: ${result.recovery?.outcome ?? (result.ok ? 'done' : 'reverted')}`;
  await endJournal(env.redis, keyPrefix(env.config), { ...j, owner: PROCESS_OWNER, outcome, result });
  env.log.info({ outcome }, 'interrupted rollback recovered');
  return result;
}
