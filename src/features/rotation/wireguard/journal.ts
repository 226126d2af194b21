import type { Redis } from 'ioredis';
import { acquireLock, lockHolder, takeOverLock, type HeldLock, type LockOptions } from '../../../shared/lock.ts';
import { journalAlive, journalKeys, loadJournal, openJournalIds, type JournalBase } from '../../../shared/journal.ts';
import type { PeerConfig } from './wg-ops.ts';

/** One side of the tunnel as the journal knows it: public keys and peer settings, never a secret. */
export interface SideState {
  readonly oldPub: string;
  newPub?: string;
  readonly peer: PeerConfig;
}

/** The step machine's own state (what the steps read and save). */
export interface WgState {
  sides?: [SideState, SideState];
  /** Set just before the first `wg set` with new keys: from here a rollback must restore. */
  applyAt?: number;
  verifiedAt?: number;
}

/**
 * A tunnel rotation in the one journal of cdb (src/shared/journal.ts): written before and after
 * every step, alive while its owner beats, taken over by a live worker when the owner is gone.
 * Public keys, step names and ids only: never a private or preshared key.
 */
export interface WgJournal extends JournalBase {
  readonly kind: 'wireguard-rotation';
  /** The tunnel's name (the engine's `secret`). */
  readonly secret: string;
  /** The target whose worker runs it (absent for a config without `targets:`); only its workers resume it. */
  readonly target?: string;
  step: number;
  phase: 'forward' | 'rollback';
  status: 'running' | 'succeeded' | 'rolled-back' | 'failed';
  /** The steps' state (`state` is the journal's own open/ended). */
  wg: WgState;
  readonly requestId: string;
  readonly command: string;
  readonly args: Record<string, unknown>;
  readonly origin: { kind: string; channel?: string; threadTs?: string };
  readonly actor: { userId: string; teamId: string; name?: string };
  stepsDone: { name: string; ms: number }[];
  notes: string[];
  probes: { service: string; probes: number; failures: number; downtimeMs: number }[];
  workers: string[];
  /** The token of the tunnel lock its owner holds: a recoverer takes that lock over at once. */
  lockToken: string;
  error?: string;
  finishedAt?: number;
}

/**
 * Tunnels span targets, so their state is under the root prefix: one rotation per tunnel at a time,
 * whichever target's worker runs it. `<prefix>:journals:open:wireguard:<tunnel>` lists the open one.
 */
export const wgScope = (tunnel: string): string => `wireguard:${tunnel}`;
export const wgLockKey = (prefix: string, tunnel: string): string => `${prefix}:rotation:wireguard:${tunnel}:lock`;

/** The tunnel's open journals, split by their owner's liveness; stale index entries are dropped. */
export async function openWgJournals(redis: Redis, prefix: string, tunnel: string): Promise<{ live: WgJournal[]; orphans: WgJournal[] }> {
  const live: WgJournal[] = [];
  const orphans: WgJournal[] = [];
  for (const id of await openJournalIds(redis, prefix, wgScope(tunnel))) {
    const j = await loadJournal<WgJournal>(redis, prefix, id);
    if (!j || j.state !== 'open') {
      await redis.srem(journalKeys(prefix).open(wgScope(tunnel)), id);
      continue;
    }
    ((await journalAlive(redis, prefix, id)) ? live : orphans).push(j);
  }
  return { live, orphans };
}

/** The tunnel lock for a recovery: free, or still held by the dead owner itself (taken over at once). */
export async function lockForRecovery(redis: Redis, prefix: string, j: WgJournal, opts: LockOptions): Promise<HeldLock | undefined> {
  const key = wgLockKey(prefix, j.secret);
  const free = await acquireLock(redis, key, opts);
  if (free) return free;
  const holder = await lockHolder(redis, key);
  return holder && holder === j.lockToken ? takeOverLock(redis, key, holder, opts) : undefined;
}
