import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { decide, type ApprovalEvent, type Decision } from './state-machine.ts';
import { approvalRecordSchema, type ApprovalReader, type ApprovalRecord } from './types.ts';

/** Records stay readable (for `/cdb approvals` and audits) this long after their window ends. */
const RETENTION_MS = 30 * 24 * 3600 * 1000;
const RECENT_KEEP = 500;
/** Every CAS loser re-reads and re-decides; each round has a winner, so this bounds 50-way races easily. */
const MAX_ROUNDS = 200;

// KEYS: record, pending zset, recent zset. ARGV: json, id, expiresAt, createdAt, pexpireat, keep.
const CREATE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', '1', 'state', 'pending', 'json', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -1 - tonumber(ARGV[6]))
return 1`;

// Compare-and-set on the record's version, keeping the pending (by expiry), approved and executing indexes in step.
// KEYS: record, pending zset, approved zset, executing zset. ARGV: expected version, json, state, id, expiresAt, approvedAt, startedAt.
const CAS = `
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', tostring(tonumber(v) + 1), 'state', ARGV[3], 'json', ARGV[2])
if ARGV[3] == 'pending' then redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4]) else redis.call('ZREM', KEYS[2], ARGV[4]) end
if ARGV[3] == 'approved' then redis.call('ZADD', KEYS[3], ARGV[6], ARGV[4]) else redis.call('ZREM', KEYS[3], ARGV[4]) end
if ARGV[3] == 'executing' then redis.call('ZADD', KEYS[4], ARGV[7], ARGV[4]) else redis.call('ZREM', KEYS[4], ARGV[4]) end
return 1`;

/**
 * 16 random bytes, base64url, never starting with `-`: users type the id after `/cdb approvals`,
 * and the tokenizer reads a leading `-` as an option (one id in 64 was refused that way).
 */
export function newApprovalId(): string {
  const id = randomBytes(16).toString('base64url');
  return id.startsWith('-') ? `_${id.slice(1)}` : id;
}

export type ApplyResult =
  | { readonly found: false }
  | ({ readonly found: true; readonly record: ApprovalRecord; readonly before: ApprovalRecord } & Decision);

/**
 * Approval records in Redis: one hash per request (`<prefix>:approval:<id>` with version, state and
 * the record as JSON), a sorted set of pending ids by expiry, one of approved ids by approval time,
 * and one of recent ids. Every change is decide() + compare-and-set, with Redis's clock as "now".
 */
export class ApprovalStore implements ApprovalReader {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {}

  key(id: string): string {
    return `${this.prefix}:approval:${id}`;
  }

  get pendingKey(): string {
    return `${this.prefix}:approvals:pending`;
  }

  get approvedKey(): string {
    return `${this.prefix}:approvals:approved`;
  }

  /** Requests a worker is running, by start time: the sweeper finds those whose worker died. */
  get executingKey(): string {
    return `${this.prefix}:approvals:executing`;
  }

  /**
   * The run lock of an executing request (src/shared/lock.ts, short TTL renewed by the worker
   * that runs it): gone while the request is `executing` means that worker died mid-run.
   */
  runLockKey(id: string): string {
    return `${this.key(id)}:run`;
  }

  get recentKey(): string {
    return `${this.prefix}:approvals:recent`;
  }

  /** Redis's clock, so that bot replicas and the worker agree on "expired". */
  async now(): Promise<number> {
    const [sec, usec] = await this.redis.time();
    return Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
  }

  async create(record: ApprovalRecord): Promise<void> {
    const valid = approvalRecordSchema.parse(record);
    const created = await this.redis.eval(
      CREATE, 3, this.key(valid.id), this.pendingKey, this.recentKey,
      JSON.stringify(valid), valid.id, String(valid.expiresAt), String(valid.createdAt), String(valid.expiresAt + RETENTION_MS), String(RECENT_KEEP),
    );
    if (created !== 1) throw new Error(`approval ${valid.id} already exists`);
  }

  private async read(id: string): Promise<{ version: string; record: ApprovalRecord } | undefined> {
    const [version, json] = await this.redis.hmget(this.key(id), 'v', 'json');
    if (!version || !json) return undefined;
    const parsed = approvalRecordSchema.safeParse(JSON.parse(json));
    // A record that no longer matches the schema is treated as absent: nothing runs from it.
    return parsed.success ? { version, record: parsed.data } : undefined;
  }

  async get(id: string): Promise<ApprovalRecord | undefined> {
    return (await this.read(id))?.record;
  }

  /** Decides the event against the current record and writes the result atomically, retrying on races. */
  async apply(id: string, event: ApprovalEvent): Promise<ApplyResult> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const current = await this.read(id);
      if (!current) return { found: false };
      const decision = decide(current.record, event, await this.now());
      if (!decision.next) return { found: true, record: current.record, before: current.record, ...decision };
      const next = approvalRecordSchema.parse(decision.next);
      const written = await this.redis.eval(
        CAS, 4, this.key(id), this.pendingKey, this.approvedKey, this.executingKey,
        current.version, JSON.stringify(next), next.state, id, String(next.expiresAt), String(next.approvedAt ?? 0), String(next.startedAt ?? 0),
      );
      if (written === -1) return { found: false };
      if (written === 1) return { found: true, record: next, before: current.record, ...decision };
      await new Promise((r) => setTimeout(r, Math.random() * 5));
    }
    throw new Error(`approval ${id}: too much contention`);
  }

  private async many(ids: string[]): Promise<ApprovalRecord[]> {
    const records = await Promise.all(ids.map((id) => this.get(id)));
    return records.filter((r): r is ApprovalRecord => r !== undefined);
  }

  /** Ids of pending requests whose expiry has passed by Redis's clock. */
  async dueForExpiry(limit = 100): Promise<string[]> {
    return this.redis.zrangebyscore(this.pendingKey, '-inf', String(await this.now()), 'LIMIT', 0, limit);
  }

  async approvedIds(): Promise<string[]> {
    return this.redis.zrange(this.approvedKey, 0, 999);
  }

  async executingIds(): Promise<string[]> {
    return this.redis.zrange(this.executingKey, 0, 999);
  }

  async overview(recent = 10): Promise<{ pending: ApprovalRecord[]; recent: ApprovalRecord[] }> {
    const pending = await this.many(await this.redis.zrange(this.pendingKey, 0, 49));
    const ids = await this.redis.zrevrange(this.recentKey, 0, recent + pending.length + 50);
    const others = (await this.many(ids.filter((id) => !pending.some((p) => p.id === id)))).filter((r) => r.state !== 'pending');
    return { pending, recent: others.slice(0, recent) };
  }
}
