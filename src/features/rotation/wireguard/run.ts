import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../../shared/config/schema.ts';
import type { WgTunnel } from '../../../shared/config/wireguard-schema.ts';
import type { WgRotationResult } from '../../../shared/contracts/wireguard.ts';
import { isOpsError, OpsError } from '../../../shared/errors.ts';

export type { WgRotationResult };
import { openHost as openReach, type CommandHost } from './host.ts';
import { WgJournalStore, type WgJournal, type WgState } from './journal.ts';
import { TunnelProbe } from './probe.ts';
import { rollbackWg, WG_STEPS, type WgStepContext } from './steps.ts';


export interface WgRunDeps {
  readonly config: Pick<Config, 'ssh' | 'redis' | 'wireguard'>;
  readonly redis: Redis;
  readonly log: Logger;
  /** Names this worker in the journal. */
  readonly workerId: string;
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

/** Runs (or resumes) one journaled rotation while holding its lease. */
async function drive(deps: WgRunDeps, tunnel: WgTunnel, j: WgJournal, resumed: boolean, progress: (t: string) => void, signal: AbortSignal): Promise<WgRotationResult> {
  const store = new WgJournalStore(deps.redis, deps.config.redis.prefix);
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  const log = deps.log.child({ rotation: j.id, tunnel: tunnel.name });
  const open = deps.openHost ?? ((reach: string) => openReach(reach, deps.config));
  const renew = setInterval(() => void store.renew(tunnel.name, deps.workerId, leaseMs).catch(() => undefined), Math.max(200, leaseMs / 3));
  const hosts: CommandHost[] = [];
  let probe: TunnelProbe | undefined;
  const save = async (): Promise<void> => store.save(j);
  try {
    j.workers.push(deps.workerId);
    if (resumed) j.notes.push(`Resumed by ${deps.workerId} at step ${WG_STEPS[j.step]?.name ?? 'end'} (${j.phase}) after the previous worker stopped.`);
    await save();
    for (const e of tunnel.endpoints) hosts.push(await open(e.host));
    const [a, b] = tunnel.endpoints;
    probe = new TunnelProbe(hosts[0] as CommandHost, b.tunnelAddress, tunnel.verifySeconds * 3 + 120);
    const ctx: WgStepContext = {
      tunnel,
      get state() { return j.state; },
      save: async (patch: Partial<WgState>) => { j.state = { ...j.state, ...patch }; await save(); },
      hosts: [hosts[0] as CommandHost, hosts[1] as CommandHost],
      probe,
      log,
      signal,
      progress,
    };
    const rollback = async (why: string): Promise<void> => {
      j.phase = 'rollback';
      j.error = why;
      await save();
      progress(`Rolling back the ${tunnel.name} tunnel to its old keys…`);
      try {
        j.notes.push(...(await rollbackWg(ctx)));
        j.status = 'rolled-back';
      } catch (err) {
        j.status = 'failed';
        j.notes.push(say(err));
        log.error({ err }, 'WireGuard rollback could not be verified');
        await deps.alert?.(`:rotating_light: WireGuard tunnel *${tunnel.name}* (${a.name} ↔ ${b.name}): key rotation failed and the old keys could not be verified. The tunnel may be down with mismatched keys — manual intervention needed. ${say(err)}`);
      }
    };
    if (j.phase === 'rollback') await rollback(j.error ?? 'resumed rollback');
    while (j.phase === 'forward' && j.step < WG_STEPS.length) {
      const step = WG_STEPS[j.step] as (typeof WG_STEPS)[number];
      progress(`WireGuard ${tunnel.name}: ${step.name} — ${step.summary}…`);
      const t0 = Date.now();
      try {
        await deps.beforeStep?.(step.name);
        await step.run(ctx);
      } catch (err) {
        log.warn({ err, step: step.name }, 'WireGuard rotation step failed');
        if (step.pointOfNoReturn) {
          j.status = 'failed';
          j.error = say(err);
          await deps.alert?.(`:rotating_light: WireGuard tunnel *${tunnel.name}*: the new keys work but writing them into the key directories failed (${j.error}). Until fixed, a restart of WireGuard on either host would bring back mismatched keys — manual intervention needed.`);
          break;
        }
        await rollback(`${step.name}: ${say(err)}`);
        break;
      }
      j.stepsDone.push({ name: step.name, ms: Date.now() - t0 });
      j.step += 1;
      await save();
    }
    if (j.phase === 'forward' && j.step >= WG_STEPS.length) j.status = 'succeeded';
  } catch (err) {
    // Hosts unreachable and the like: the journal stays `running`, so the next worker tries again.
    log.error({ err }, 'WireGuard rotation interrupted');
    if (probe) await probe.stop();
    throw err;
  } finally {
    clearInterval(renew);
    if (j.status !== 'running') {
      const r = probe ? await probe.stop() : undefined;
      if (r) j.probes = [{ service: `tunnel ${tunnel.endpoints[0].name}→${tunnel.endpoints[1].name}`, probes: r.sent, failures: r.sent - r.received, downtimeMs: r.outageMs }];
      j.finishedAt = Date.now();
      await save();
    }
    await store.release(tunnel.name, deps.workerId).catch(() => undefined);
    await Promise.all(hosts.map((h) => h.close().catch(() => undefined)));
  }
  return resultOf(j, resumed);
}

/** `/cdb rotate wireguard <tunnel>` after approval. */
export async function rotateWireguard(deps: WgRunDeps, name: string, req: WgRequest, progress: (t: string) => void, signal: AbortSignal): Promise<WgRotationResult> {
  const tunnel = findTunnel(deps.config, name);
  const store = new WgJournalStore(deps.redis, deps.config.redis.prefix);
  if (!(await store.acquire(tunnel.name, deps.workerId, deps.leaseMs ?? DEFAULT_LEASE_MS))) {
    throw new OpsError('WG_ROTATION_BUSY', `A rotation of the ${tunnel.name} tunnel is running right now. Nothing was changed; see its thread.`);
  }
  const last = await store.get(tunnel.name);
  if (last?.status === 'running') {
    await store.release(tunnel.name, deps.workerId);
    throw new OpsError('WG_ROTATION_BUSY', `An interrupted rotation of the ${tunnel.name} tunnel (request \`${last.requestId}\`) is being finished or rolled back by a worker. Nothing new was started; try again when it has reported.`);
  }
  const j: WgJournal = {
    id: randomUUID(), secret: tunnel.name, kind: 'wireguard', step: 0, phase: 'forward', status: 'running', state: {},
    requestId: req.requestId, command: req.command, args: req.args, origin: req.origin, actor: req.actor,
    startedAt: Date.now(), stepsDone: [], notes: [], probes: [], workers: [],
  };
  return drive(deps, tunnel, j, false, progress, signal);
}

/**
 * Finishes or rolls back rotations whose worker died (journal `running`, lease expired): forward
 * from the recorded step (every step is idempotent), or on with the rollback if one was under way.
 */
export async function recoverWireguardRotations(deps: WgRunDeps): Promise<{ journal: WgJournal; result: WgRotationResult }[]> {
  const store = new WgJournalStore(deps.redis, deps.config.redis.prefix);
  const out: { journal: WgJournal; result: WgRotationResult }[] = [];
  for (const tunnel of deps.config.wireguard.tunnels) {
    const j = await store.get(tunnel.name);
    if (j?.status !== 'running') continue;
    if (!(await store.acquire(tunnel.name, deps.workerId, deps.leaseMs ?? DEFAULT_LEASE_MS))) continue;
    const fresh = await store.get(tunnel.name);
    if (fresh?.status !== 'running') {
      await store.release(tunnel.name, deps.workerId);
      continue;
    }
    deps.log.warn({ tunnel: tunnel.name, step: fresh.step, phase: fresh.phase }, 'resuming an interrupted WireGuard rotation');
    const result = await drive(deps, tunnel, fresh, true, () => undefined, new AbortController().signal);
    out.push({ journal: fresh, result });
  }
  return out;
}
