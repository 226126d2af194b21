import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../../shared/config/schema.ts';
import type { WgTunnel } from '../../../shared/config/wireguard-schema.ts';
import type { WgRotationResult } from '../../../shared/contracts/wireguard.ts';
import { isOpsError, OpsError } from '../../../shared/errors.ts';
import { acquireLock, lockHolder, lockOwner, type HeldLock } from '../../../shared/lock.ts';
import { JournalWriter, loadJournal, journalAlive, PROCESS_OWNER } from '../../../shared/journal.ts';

export type { WgRotationResult };
import { openHost as openReach, type CommandHost } from './host.ts';
import { lockForRecovery, openWgJournals, wgLockKey, wgScope, type WgJournal, type WgState } from './journal.ts';
import { TunnelProbe } from './probe.ts';
import { rollbackWg, WG_STEPS, type WgStepContext } from './steps.ts';


export interface WgRunDeps {
  readonly config: Pick<Config, 'ssh' | 'redis' | 'wireguard'>;
  readonly redis: Redis;
  readonly log: Logger;
  /** Names this worker in the journal. */
  readonly workerId: string;
  /** The target whose worker this is (journaled; recovery resumes only its own target's rotations). */
  readonly target?: string;
  /** TTL of the tunnel lock (the one lock, src/shared/lock.ts), renewed while the rotation runs. */
  readonly leaseMs?: number;
  readonly openHost?: (reach: string) => Promise<CommandHost>;
  /** Said loudly in the alerts channel: keys may be mismatched and a person must look. */
  alert?(text: string): Promise<void>;
  /** Tests only: runs before each forward step (e.g. to sabotage it or to kill the process). */
  beforeStep?(name: string): Promise<void> | void;
}

export interface WgRequest {
  readonly requestId: string;
  readonly command: string;
  readonly args: Record<string, unknown>;
  readonly origin: WgJournal['origin'];
  readonly actor: WgJournal['actor'];
}

const DEFAULT_LEASE_MS = 15_000;

const say = (err: unknown): string => (isOpsError(err) ? err.userMessage : (err as Error).message);

export function findTunnel(config: Pick<Config, 'wireguard'>, name: string): WgTunnel {
  const t = config.wireguard.tunnels.find((x) => x.name === name);
  if (!t) {
    const known = config.wireguard.tunnels.map((x) => `\`${x.name}\``).join(', ');
    throw new OpsError('NOT_FOUND', `There is no WireGuard tunnel \`${name}\` in the configuration${known ? `; known tunnels: ${known}` : ' (wireguard.tunnels is empty)'}.`);
  }
  return t;
}

function resultOf(j: WgJournal, resumed: boolean): WgRotationResult {
  const outage = j.probes[0]?.downtimeMs;
  return {
    mode: 'rotate', secret: j.secret, kind: 'wireguard', status: j.status, steps: j.stepsDone, probes: j.probes, notes: j.notes, resumed,
    totalMs: (j.finishedAt ?? Date.now()) - j.startedAt, ...(outage !== undefined ? { outageMs: outage } : {}), ...(j.error ? { error: j.error } : {}),
  };
}

/** A hold that was lost (Redis unreachable too long, or taken over): this worker must stop changing things. */
function lostHold(tunnel: string): OpsError {
  return new OpsError('HANDED_OVER', `This worker lost its hold on the rotation of the ${tunnel} tunnel (Redis unreachable for too long?); another worker finishes or rolls it back and reports here.`);
}

/**
 * Runs (or resumes) one journaled rotation while holding the tunnel lock. The journal is written
 * before and after every step; if this worker dies, its heartbeat expires and a live worker of the
 * same target takes over from the recorded step (every step is idempotent).
 */
async function drive(deps: WgRunDeps, tunnel: WgTunnel, w: JournalWriter<WgJournal>, lock: HeldLock, resumed: boolean, progress: (t: string) => void, outer: AbortSignal): Promise<WgRotationResult> {
  const j = w.data;
  const log = deps.log.child({ rotation: j.id, tunnel: tunnel.name, ...(j.target ? { target: j.target } : {}) });
  const open = deps.openHost ?? ((reach: string) => openReach(reach, deps.config));
  const signal = AbortSignal.any([outer, lock.lost, w.lost]);
  const guard = (): void => {
    if (lock.lost.aborted || w.lost.aborted) throw lostHold(tunnel.name);
  };
  const hosts: CommandHost[] = [];
  let probe: TunnelProbe | undefined;
  const save = async (): Promise<void> => w.save();
  const where = j.target ? ` (target ${j.target})` : '';
  try {
    j.workers.push(deps.workerId);
    if (resumed) j.notes.push(`Resumed by ${deps.workerId} at step ${WG_STEPS[j.step]?.name ?? 'end'} (${j.phase}) after the previous worker stopped.`);
    await save();
    for (const e of tunnel.endpoints) hosts.push(await open(e.host));
    const [a, b] = tunnel.endpoints;
    probe = new TunnelProbe(hosts[0] as CommandHost, b.tunnelAddress, tunnel.verifySeconds * 3 + 120);
    const ctx: WgStepContext = {
      tunnel,
      get state() { return j.wg; },
      save: async (patch: Partial<WgState>) => { guard(); j.wg = { ...j.wg, ...patch }; await save(); },
      hosts: [hosts[0] as CommandHost, hosts[1] as CommandHost],
      probe,
      log,
      signal,
      progress,
    };
    const rollback = async (why: string): Promise<void> => {
      j.phase = 'rollback';
      j.error = why;
      await w.entry({ step: 'rollback', phase: 'begin', detail: why.slice(0, 200) });
      progress(`Rolling back the ${tunnel.name} tunnel to its old keys…`);
      try {
        j.notes.push(...(await rollbackWg(ctx)));
        j.status = 'rolled-back';
      } catch (err) {
        j.status = 'failed';
        j.notes.push(say(err));
        log.error({ err }, 'WireGuard rollback could not be verified');
        await deps.alert?.(`:rotating_light: WireGuard tunnel *${tunnel.name}* (${a.name} ↔ ${b.name})${where}: key rotation failed and the old keys could not be verified. The tunnel may be down with mismatched keys — manual intervention needed. ${say(err)}`);
      }
    };
    if (j.phase === 'rollback') await rollback(j.error ?? 'resumed rollback');
    while (j.phase === 'forward' && j.step < WG_STEPS.length) {
      guard();
      const step = WG_STEPS[j.step] as (typeof WG_STEPS)[number];
      progress(`WireGuard ${tunnel.name}${where}: ${step.name} — ${step.summary}…`);
      const t0 = Date.now();
      await w.entry({ step: step.name, phase: 'begin' });
      try {
        await deps.beforeStep?.(step.name);
        await step.run(ctx);
      } catch (err) {
        log.warn({ err, step: step.name }, 'WireGuard rotation step failed');
        // Lost hold: leave the journal to whoever took it over.
        guard();
        await w.entry({ step: step.name, phase: 'failed', detail: say(err).slice(0, 200) });
        if (step.pointOfNoReturn) {
          j.status = 'failed';
          j.error = say(err);
          await deps.alert?.(`:rotating_light: WireGuard tunnel *${tunnel.name}*${where}: the new keys work but writing them into the key directories failed (${j.error}). Until fixed, a restart of WireGuard on either host would bring back mismatched keys — manual intervention needed.`);
          break;
        }
        await rollback(`${step.name}: ${say(err)}`);
        break;
      }
      j.stepsDone.push({ name: step.name, ms: Date.now() - t0 });
      j.step += 1;
      await w.entry({ step: step.name, phase: 'done' });
    }
    if (j.phase === 'forward' && j.step >= WG_STEPS.length) j.status = 'succeeded';
  } catch (err) {
    // Hosts unreachable, hold lost and the like: the journal stays open, so a live worker tries again.
    log.error({ err }, 'WireGuard rotation interrupted');
    if (probe) await probe.stop();
    w.abandon();
    throw err;
  } finally {
    if (j.status !== 'running') {
      const r = probe ? await probe.stop() : undefined;
      if (r) j.probes = [{ service: `tunnel ${tunnel.endpoints[0].name}→${tunnel.endpoints[1].name}`, probes: r.sent, failures: r.sent - r.received, downtimeMs: r.outageMs }];
      j.finishedAt = Date.now();
      await w.end();
    }
    await lock.release().catch(() => undefined);
    await Promise.all(hosts.map((h) => h.close().catch(() => undefined)));
  }
  return resultOf(j, resumed);
}

/** `/cdb rotate wireguard <tunnel>` after approval. */
export async function rotateWireguard(deps: WgRunDeps, name: string, req: WgRequest, progress: (t: string) => void, signal: AbortSignal): Promise<WgRotationResult> {
  const tunnel = findTunnel(deps.config, name);
  const prefix = deps.config.redis.prefix;
  const key = wgLockKey(prefix, tunnel.name);
  const lock = await acquireLock(deps.redis, key, { owner: req.requestId, ttlMs: deps.leaseMs ?? DEFAULT_LEASE_MS });
  if (!lock) {
    const holder = await lockHolder(deps.redis, key);
    throw new OpsError('WG_ROTATION_BUSY', `A rotation of the ${tunnel.name} tunnel is running right now (request \`${holder ? lockOwner(holder) : '?'}\`). Nothing was changed; see its thread.`);
  }
  let writer: JournalWriter<WgJournal>;
  try {
    const { live, orphans } = await openWgJournals(deps.redis, prefix, tunnel.name);
    const last = live[0] ?? orphans[0];
    if (last) {
      const by = last.target ? ` by a worker of target ${last.target}` : ' by a worker';
      throw new OpsError('WG_ROTATION_BUSY', `An interrupted rotation of the ${tunnel.name} tunnel (request \`${last.requestId}\`) is being finished or rolled back${by}. Nothing new was started; try again when it has reported.`);
    }
    const now = Date.now();
    writer = await JournalWriter.open<WgJournal>(deps.redis, prefix, {
      v: 1, id: req.requestId, kind: 'wireguard-rotation', scope: wgScope(tunnel.name), owner: PROCESS_OWNER, state: 'open', startedAt: now, updatedAt: now, log: [],
      secret: tunnel.name, ...(deps.target ? { target: deps.target } : {}), step: 0, phase: 'forward', status: 'running', wg: {},
      requestId: req.requestId, command: req.command, args: req.args, origin: req.origin, actor: req.actor,
      stepsDone: [], notes: [], probes: [], workers: [], lockToken: lock.token,
    });
  } catch (err) {
    await lock.release().catch(() => undefined);
    throw err;
  }
  return drive(deps, tunnel, writer, lock, false, progress, signal);
}

/**
 * Finishes or rolls back rotations whose worker died (journal open, its heartbeat gone): forward
 * from the recorded step (every step is idempotent), or on with the rollback if one was under way.
 * Only the rotations of `deps.target` (the hosts it reaches are the ones that started it).
 */
export async function recoverWireguardRotations(deps: WgRunDeps): Promise<{ journal: WgJournal; result: WgRotationResult }[]> {
  const prefix = deps.config.redis.prefix;
  const out: { journal: WgJournal; result: WgRotationResult }[] = [];
  for (const tunnel of deps.config.wireguard.tunnels) {
    const { orphans } = await openWgJournals(deps.redis, prefix, tunnel.name);
    for (const j of orphans) {
      if ((j.target ?? undefined) !== (deps.target ?? undefined)) continue;
      const lock = await lockForRecovery(deps.redis, prefix, j, { owner: `recovery-${j.id}`, ttlMs: deps.leaseMs ?? DEFAULT_LEASE_MS });
      if (!lock) continue;
      // Re-read under the lock: another worker may have finished it meanwhile.
      const fresh = await loadJournal<WgJournal>(deps.redis, prefix, j.id);
      if (!fresh || fresh.state !== 'open' || (await journalAlive(deps.redis, prefix, j.id))) {
        await lock.release().catch(() => undefined);
        continue;
      }
      deps.log.warn({ tunnel: tunnel.name, step: fresh.step, phase: fresh.phase, previousOwner: fresh.owner }, 'resuming an interrupted WireGuard rotation');
      const writer = await JournalWriter.open<WgJournal>(deps.redis, prefix, { ...fresh, owner: PROCESS_OWNER, lockToken: lock.token });
      const result = await drive(deps, tunnel, writer, lock, true, () => undefined, new AbortController().signal);
      out.push({ journal: writer.data, result });
    }
  }
  return out;
}
