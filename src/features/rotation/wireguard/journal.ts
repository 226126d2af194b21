import type { Redis } from 'ioredis';
import type { PeerConfig } from './wg-ops.ts';

/** One side of the tunnel as the journal knows it: public keys and peer settings, never a secret. */
export interface SideState {
  readonly oldPub: string;
  newPub?: string;
  readonly peer: PeerConfig;
}

/** The WireGuard kind's journaled state (the engine's `Journal.state`). */
export interface WgState {
  sides?: [SideState, SideState];
  /** Set just before the first `wg set` with new keys: from here a rollback must restore. */
  applyAt?: number;
  verifiedAt?: number;
}

/** Same shape as the rotation engine's `Journal` (src/features/rotation/engine.ts on branch rotation). */
export interface WgJournal {
  readonly id: string;
  readonly secret: string;
  readonly kind: 'wireguard';
  step: number;
  phase: 'forward' | 'rollback';
  status: 'running' | 'succeeded' | 'rolled-back' | 'failed';
  state: WgState;
  readonly requestId: string;
  readonly command: string;
  readonly args: Record<string, unknown>;
  readonly origin: { kind: string; channel?: string; threadTs?: string };
  readonly actor: { userId: string; teamId: string; name?: string };
  readonly startedAt: number;
  stepsDone: { name: string; ms: number }[];
  notes: string[];
  probes: { service: string; probes: number; failures: number; downtimeMs: number }[];
  workers: string[];
  error?: string;
  finishedAt?: number;
}

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
const RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

/**
 * Journal and lease of one tunnel's rotation in Redis. The journal is rewritten after every step;
 * the lease (renewed while a worker works) tells the next worker whether the last one is still alive.
 */
export class WgJournalStore {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  private key(tunnel: string): string {
    return `${this.prefix}:rotation:journal:wireguard:${tunnel}`;
  }

  private leaseKey(tunnel: string): string {
    return `${this.key(tunnel)}:lease`;
  }

  async get(tunnel: string): Promise<WgJournal | undefined> {
    const raw = await this.redis.get(this.key(tunnel));
    return raw ? (JSON.parse(raw) as WgJournal) : undefined;
  }

  async save(j: WgJournal): Promise<void> {
    await this.redis.set(this.key(j.secret), JSON.stringify(j));
  }

  async acquire(tunnel: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.leaseKey(tunnel), owner, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async renew(tunnel: string, owner: string, ttlMs: number): Promise<boolean> {
    return Number(await this.redis.eval(RENEW, 1, this.leaseKey(tunnel), owner, String(ttlMs))) === 1;
  }

  async release(tunnel: string, owner: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.leaseKey(tunnel), owner);
  }
}
