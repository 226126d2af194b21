import type { Logger } from 'pino';
import type { WgTunnel } from '../../../shared/config/wireguard-schema.ts';
import { OpsError } from '../../../shared/errors.ts';
import type { CommandHost } from './host.ts';
import type { SideState, WgState } from './journal.ts';
import type { TunnelProbe } from './probe.ts';
import { commitFiles, generateKey, inspect, movePresharedKey, removePending, setKeys, type InterfaceState, type SetKeys } from './wg-ops.ts';

/** What a step gets (a subset of the engine's StepContext, with both hosts open). */
export interface WgStepContext {
  readonly tunnel: WgTunnel;
  readonly state: Readonly<WgState>;
  save(patch: Partial<WgState>): Promise<void>;
  readonly hosts: readonly [CommandHost, CommandHost];
  readonly probe: TunnelProbe;
  readonly log: Logger;
  readonly signal: AbortSignal;
  progress(text: string): void;
}

export interface WgStep {
  readonly name: string;
  readonly summary: string;
  readonly pointOfNoReturn?: boolean;
  run(ctx: WgStepContext): Promise<void>;
}

const both = <T>(fn: (i: 0 | 1) => Promise<T>): Promise<[T, T]> => Promise.all([fn(0), fn(1)]);

/** Runs on both hosts at once and waits for both, so a failure on one never leaves the other mid-call. */
async function bothSettled(fn: (i: 0 | 1) => Promise<void>): Promise<void> {
  const r = await Promise.allSettled([fn(0), fn(1)]);
  const failed = r.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  if (failed) throw failed.reason;
}

function sides(ctx: WgStepContext): [SideState, SideState] {
  const s = ctx.state.sides;
  if (!s) throw new OpsError('WG_ROTATION_FAILED', 'The rotation journal lost the tunnel’s key state.');
  return s;
}

async function waitUntil(ctx: WgStepContext, seconds: number, ok: () => Promise<boolean>): Promise<boolean> {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until && !ctx.signal.aborted) {
    if (await ok()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/**
 * `wg set` on the second endpoint first, then on the first (the one that probes, so the one whose
 * traffic starts the handshake). Both SSH connections are already open, so the gap is one round
 * trip. In parallel, the first side's handshake often reached the other before it had switched and
 * was dropped, and WireGuard waits 5 s (REKEY_TIMEOUT) before it tries again: a 5 s outage instead
 * of a few hundred ms. Both calls always run, so a failure on one side never skips the other.
 */
async function applyInOrder(ctx: WgStepContext, what: (i: 0 | 1, j: 0 | 1) => Omit<SetKeys, 'iface' | 'keyDir'>): Promise<PromiseSettledResult<void>[]> {
  const { endpoints } = ctx.tunnel;
  const one = (i: 0 | 1) => setKeys(ctx.hosts[i], { iface: endpoints[i].interface, keyDir: endpoints[i].keyDir, ...what(i, i === 0 ? 1 : 0) });
  const second = await Promise.allSettled([one(1)]);
  const first = await Promise.allSettled([one(0)]);
  const results = [...first, ...second];
  const failed = results.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  if (failed && what(0, 1).files === 'new') throw failed.reason;
  return results;
}

const peerOf = (s: InterfaceState, pub: string | undefined) => s.peers.find((p) => p.publicKey === pub);

export const WG_STEPS: readonly WgStep[] = [
  {
    name: 'inspect',
    summary: 'read both interfaces; check each runs the key in its key directory and knows the other as its only peer',
    async run(ctx) {
      const { endpoints } = ctx.tunnel;
      const live = await both((i) => inspect(ctx.hosts[i], endpoints[i].interface, endpoints[i].keyDir));
      const out: SideState[] = [];
      for (const i of [0, 1] as const) {
        const me = live[i];
        const other = live[i === 0 ? 1 : 0];
        const e = endpoints[i];
        const where = `${e.name} (${e.interface} on ${ctx.hosts[i].where})`;
        const peer = peerOf(me, other.publicKey);
        if (me.peers.length !== 1 || !peer) throw new OpsError('WG_TUNNEL_MISMATCH', `${where} does not have exactly one peer with the other side’s key: this is not the tunnel the configuration describes. Nothing was changed.`);
        if (!me.keyFileMatches) throw new OpsError('WG_TUNNEL_MISMATCH', `${where} runs a private key that is not ${e.keyDir}/private.key, so the old key could not be restored after a failure. Nothing was changed.`);
        if (!me.pskFileMatches) throw new OpsError('WG_TUNNEL_MISMATCH', `${where} runs a preshared key that is not ${e.keyDir}/preshared.key. Nothing was changed.`);
        out.push({ oldPub: me.publicKey, peer: { allowedIps: peer.allowedIps, ...(peer.endpoint ? { endpoint: peer.endpoint } : {}), ...(peer.keepalive ? { keepalive: peer.keepalive } : {}) } });
      }
      await ctx.save({ sides: out as [SideState, SideState] });
    },
  },
  {
    name: 'generate',
    summary: 'new private key on each host (wg genkey, never leaves it); new preshared key carried host to host over SSH',
    async run(ctx) {
      const { endpoints } = ctx.tunnel;
      const [a, b] = sides(ctx);
      const [pa, pb] = await both((i) => generateKey(ctx.hosts[i], endpoints[i].keyDir));
      await movePresharedKey(ctx.hosts[0], ctx.hosts[1], endpoints[0].keyDir, endpoints[1].keyDir);
      await ctx.save({ sides: [{ ...a, newPub: pa }, { ...b, newPub: pb }] });
    },
  },
  {
    name: 'apply',
    summary: 'switch both interfaces to the new keys, one right after the other over the open SSH connections',
    async run(ctx) {
      const s = sides(ctx);
      await ctx.save({ applyAt: Date.now() });
      await applyInOrder(ctx, (i, j) => ({ files: 'new', peer: s[j].newPub ?? '', config: s[i].peer, remove: s[j].oldPub }));
    },
  },
  {
    name: 'verify',
    summary: 'wait for a handshake under the new keys on both sides and a probe answered through the tunnel',
    async run(ctx) {
      const { endpoints, verifySeconds } = ctx.tunnel;
      const s = sides(ctx);
      const since = ctx.state.applyAt ?? 0;
      const ok = await waitUntil(ctx, verifySeconds, async () => {
        const live = await both((i) => inspect(ctx.hosts[i], endpoints[i].interface, endpoints[i].keyDir));
        return [0, 1].every((i) => {
          const j = i === 0 ? 1 : 0;
          const me = live[i] as InterfaceState;
          return me.publicKey === s[i]?.newPub && (peerOf(me, s[j]?.newPub)?.handshake ?? 0) > 0;
        }) && ctx.probe.answeredSince(since);
      });
      if (!ok) throw new OpsError('WG_ROTATION_FAILED', `The tunnel did not carry traffic under the new keys within ${verifySeconds} s.`);
      await ctx.save({ verifiedAt: Date.now() });
    },
  },
  {
    name: 'commit',
    summary: 'write the new keys into each key directory (in place), drop the old ones',
    pointOfNoReturn: true,
    async run(ctx) {
      const { endpoints } = ctx.tunnel;
      const s = sides(ctx);
      await bothSettled((i) => commitFiles(ctx.hosts[i], endpoints[i].keyDir, s[i].newPub ?? '', s[i === 0 ? 1 : 0].newPub ?? ''));
    },
  },
];

/**
 * Back to the old keys from wherever the journal says the rotation got: before `apply` only the
 * pending files go; after it both interfaces get the old key and peer back (idempotent) and the
 * tunnel must carry a probe again. Throws when it cannot prove the tunnel works.
 */
export async function rollbackWg(ctx: WgStepContext): Promise<string[]> {
  const { endpoints, verifySeconds } = ctx.tunnel;
  const notes: string[] = [];
  const s = ctx.state.sides;
  if (ctx.state.applyAt === undefined || !s) {
    await bothSettled((i) => removePending(ctx.hosts[i], endpoints[i].keyDir));
    notes.push('Nothing had been applied: the pending keys were removed and the tunnel kept its keys.');
    return notes;
  }
  const since = Date.now();
  const restore = await applyInOrder(ctx, (i, j) => ({ files: 'current', peer: s[j].oldPub, config: s[i].peer, ...(s[j].newPub ? { remove: s[j].newPub } : {}) }));
  restore.forEach((r, i) => { if (r.status === 'rejected') notes.push(`Restoring ${endpoints[i as 0 | 1].name} failed: ${(r.reason as Error).message}`); });
  const ok = await waitUntil(ctx, verifySeconds, async () => {
    const live = await both((i) => inspect(ctx.hosts[i], endpoints[i].interface, endpoints[i].keyDir));
    return live[0].publicKey === s[0].oldPub && live[1].publicKey === s[1].oldPub && ctx.probe.answeredSince(since);
  });
  if (!ok) {
    throw new OpsError('WG_ROTATION_FAILED', `MANUAL INTERVENTION NEEDED: the old keys were put back but the tunnel ${ctx.tunnel.name} does not carry traffic (${notes.join(' ') || 'no handshake within ' + verifySeconds + ' s'}). Old keys are still in ${endpoints[0].keyDir} and ${endpoints[1].keyDir}; pending ones in *.new.`);
  }
  await bothSettled((i) => removePending(ctx.hosts[i], endpoints[i].keyDir));
  notes.push(`Restored the old keys on ${endpoints[0].name} and ${endpoints[1].name}; the tunnel carries traffic again.`);
  return notes;
}
