import type { Redis } from 'ioredis';
import { OpsError } from '../../shared/errors.ts';
import { acquireLock, type HeldLock } from '../../shared/lock.ts';
import type { Journal } from './engine.ts';

/** The holder no longer holds the secret's lock: it must stop; the worker that took over reports. */
export class LeaseLostError extends OpsError {
  constructor() {
    super('ROTATION_FAILED', 'Another worker took over this rotation.');
  }
}

// Written only while `lockKey` still holds the caller's token: a worker that lost the lock (its
// renewals came too late and another worker took over) can never overwrite the new owner's journal.
const FENCED_SET = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[2], ARGV[2]) return 1 end return 0";

/**
 * The rotation journal in Redis: one JSON document per secret (identifiers and step names only,
 * never a value) and the set of active rotations. Who drives an active rotation is decided by the
 * one lock of cdb (src/shared/lock.ts), one per secret, with the rotation lease as its TTL, renewed
 * while the worker runs: a lock that ran out means the worker died, and the next one takes over.
 */
export class RotationJournal {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  key(secret: string): string {
    return `${this.prefix}:rotation:journal:${secret}`;
  }
  lockKey(secret: string): string {
    return `${this.prefix}:rotation:lock:${secret}`;
  }
  get activeKey(): string {
    return `${this.prefix}:rotation:active`;
  }
  lastKey(secret: string): string {
    return `${this.prefix}:rotation:last:${secret}`;
  }
  pausedKey(secret: string): string {
    return `${this.prefix}:rotation:paused:${secret}`;
  }

  private async refuse(secret: string): Promise<never> {
    const j = await this.get(secret).catch(() => undefined);
    const by = j?.status === 'running' ? ` (request \`${j.requestId}\`, step ${j.phase === 'rollback' ? 'rollback' : String(j.step + 1)})` : '';
    throw new OpsError('ROTATION_IN_PROGRESS', `A rotation of \`${secret}\` is already in progress${by}. It finishes or rolls back on its own; try again afterwards.`);
  }

  /**
   * Takes the secret's lock and records the rotation as active; refused while another one holds the
   * lock or is still active (a dead worker's rotation waiting for a worker to take it over).
   */
  async begin(journal: Journal, owner: string, leaseMs: number): Promise<HeldLock> {
    const lock = await acquireLock(this.redis, this.lockKey(journal.secret), { ttlMs: leaseMs, owner });
    if (!lock) return this.refuse(journal.secret);
    if (await this.redis.sismember(this.activeKey, journal.secret)) {
      await lock.release();
      return this.refuse(journal.secret);
    }
    await this.redis.multi().sadd(this.activeKey, journal.secret).set(this.key(journal.secret), JSON.stringify(journal)).exec();
    return lock;
  }

  async get(secret: string): Promise<Journal | undefined> {
    const raw = await this.redis.get(this.key(secret));
    return raw ? (JSON.parse(raw) as Journal) : undefined;
  }

  /** Writes the journal while `lock` holds; throws LeaseLostError once another worker has it. */
  async save(journal: Journal, lock: HeldLock): Promise<void> {
    const ok = await this.redis.eval(FENCED_SET, 2, lock.key, this.key(journal.secret), lock.token, JSON.stringify(journal));
    if (ok !== 1) throw new LeaseLostError();
  }

  /** Takes over an active rotation whose worker's lock ran out; undefined while someone holds it. */
  async claim(secret: string, owner: string, leaseMs: number): Promise<HeldLock | undefined> {
    if (!(await this.redis.sismember(this.activeKey, secret))) return undefined;
    const lock = await acquireLock(this.redis, this.lockKey(secret), { ttlMs: leaseMs, owner });
    if (!lock) return undefined;
    // Ended between the two reads: nothing to take over.
    if (!(await this.redis.sismember(this.activeKey, secret))) {
      await lock.release();
      return undefined;
    }
    return lock;
  }

  /** Drops a secret from the active set (its journal is no longer running). */
  async forgetActive(secret: string): Promise<void> {
    await this.redis.srem(this.activeKey, secret);
  }

  async active(): Promise<string[]> {
    return this.redis.smembers(this.activeKey);
  }

  /** The last write (fenced), then the secret is free again. */
  async end(journal: Journal, lock: HeldLock): Promise<void> {
    await this.save(journal, lock);
    if (journal.status === 'succeeded' && journal.args.mode !== 'setup') {
      await this.redis.set(this.lastKey(journal.secret), JSON.stringify({ at: journal.finishedAt ?? Date.now(), by: journal.actor.userId, byName: journal.actor.name, requestId: journal.requestId, mode: journal.args.mode ?? 'rotate' }));
    }
    await this.redis.srem(this.activeKey, journal.secret);
    await lock.release();
  }

  async last(secret: string): Promise<{ at: number; by: string; byName?: string; requestId: string } | undefined> {
    const raw = await this.redis.get(this.lastKey(secret));
    return raw ? (JSON.parse(raw) as { at: number; by: string; byName?: string; requestId: string }) : undefined;
  }
}

/** Throws ROTATION_IN_PROGRESS while a rotation of `secret` is active. */
export async function assertIdle(redis: Redis, prefix: string, secret: string): Promise<void> {
  const journal = new RotationJournal(redis, prefix);
  if (!(await redis.sismember(journal.activeKey, secret))) return;
  const j = await journal.get(secret);
  throw new OpsError('ROTATION_IN_PROGRESS', `A rotation of \`${secret}\` is already in progress${j ? ` (request \`${j.requestId}\`)` : ''}. It finishes or rolls back on its own; try again afterwards.`);
}
