import type { Redis } from 'ioredis';
import { OpsError } from '../../shared/errors.ts';
import type { Journal } from './engine.ts';

/**
 * The rotation journal in Redis: one JSON document per secret (identifiers and step names only,
 * never a value), the set of active rotations, and a lease per active rotation that its worker
 * renews. A lease that runs out means the worker died: the next one resumes.
 */
export class RotationJournal {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  key(secret: string): string {
    return `${this.prefix}:rotation:journal:${secret}`;
  }
  private lease(secret: string): string {
    return `${this.prefix}:rotation:lease:${secret}`;
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

  // Atomic: a second rotation of the same secret is refused while the first is active.
  private static readonly BEGIN = `
if redis.call('sismember', KEYS[1], ARGV[1]) == 1 then return redis.call('get', KEYS[2]) or '' end
redis.call('sadd', KEYS[1], ARGV[1])
redis.call('set', KEYS[2], ARGV[2])
redis.call('set', KEYS[3], ARGV[3], 'PX', ARGV[4])
return false`;

  async begin(journal: Journal, owner: string, leaseMs: number): Promise<void> {
    const other = await this.redis.eval(RotationJournal.BEGIN, 3, this.activeKey, this.key(journal.secret), this.lease(journal.secret), journal.secret, JSON.stringify(journal), owner, leaseMs);
    if (other !== null && other !== undefined) {
      let by = '';
      try {
        const j = JSON.parse(String(other)) as Journal;
        by = ` (request \`${j.requestId}\`, step ${j.phase === 'rollback' ? 'rollback' : String(j.step + 1)})`;
      } catch {
        // an unreadable journal still blocks
      }
      throw new OpsError('ROTATION_IN_PROGRESS', `A rotation of \`${journal.secret}\` is already in progress${by}. It finishes or rolls back on its own; try again afterwards.`);
    }
  }

  async get(secret: string): Promise<Journal | undefined> {
    const raw = await this.redis.get(this.key(secret));
    return raw ? (JSON.parse(raw) as Journal) : undefined;
  }

  async save(journal: Journal): Promise<void> {
    await this.redis.set(this.key(journal.secret), JSON.stringify(journal));
  }

  /** Renews our lease; false when another worker holds it (we must stop). */
  async renew(secret: string, owner: string, leaseMs: number): Promise<boolean> {
    const r = await this.redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end", 1, this.lease(secret), owner, leaseMs);
    return r === 1;
  }

  /** Takes over an active rotation whose lease ran out. */
  async claim(secret: string, owner: string, leaseMs: number): Promise<boolean> {
    if (!(await this.redis.sismember(this.activeKey, secret))) return false;
    return (await this.redis.set(this.lease(secret), owner, 'PX', leaseMs, 'NX')) === 'OK';
  }

  async active(): Promise<string[]> {
    return this.redis.smembers(this.activeKey);
  }

  async end(journal: Journal, owner: string): Promise<void> {
    await this.save(journal);
    if (journal.status === 'succeeded' && journal.args.mode !== 'setup') {
      await this.redis.set(this.lastKey(journal.secret), JSON.stringify({ at: journal.finishedAt ?? Date.now(), by: journal.actor.userId, byName: journal.actor.name, requestId: journal.requestId, mode: journal.args.mode ?? 'rotate' }));
    }
    await this.redis.srem(this.activeKey, journal.secret);
    await this.redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", 1, this.lease(journal.secret), owner);
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
