import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Actor } from '../contracts/envelope.ts';
import { GENESIS, UNKEYED, linkHash, parseHead, signCheckpoint, type ChainHead, type Checkpoint } from './chain.ts';

export type AuditOutcome =
  | 'accepted' | 'answered' | 'succeeded' | 'failed' | 'rejected'
  // Two-person approval transitions (src/shared/approval/); `voted` is one of several approvals needed.
  | 'requested' | 'voted' | 'approved' | 'denied' | 'cancelled' | 'expired' | 'executed';

export interface AuditEntry {
  readonly requestId: string;
  readonly command: string;
  readonly args: Record<string, unknown>;
  readonly actor: Actor;
  readonly via: string;
  readonly outcome: AuditOutcome;
  readonly durationMs?: number;
  readonly code?: string;
  /** Approval transitions: the request's state afterwards, who approved so far, and why it ended. */
  readonly approval?: { readonly id: string; readonly state: string; readonly approvers?: readonly string[]; readonly reason?: string };
}

const SECRETISH = /(pass(word)?|secret|token|key|credential)/i;

/** Argument values whose names look secret are replaced: the audit stream is read by many. */
export function redactArgs(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, SECRETISH.test(k) ? '[REDACTED]' : v]));
}

/**
 * Appends a batch of chained entries if the head is still what the writer saw; otherwise returns the
 * current head. ARGV: expected head, default head, then (seq, prev, hash, entry) per entry.
 */
const APPEND_LUA = `
local cur = redis.call('GET', KEYS[1]) or ARGV[2]
if cur ~= ARGV[1] then return cur end
local last
for i = 3, #ARGV, 4 do
  redis.call('XADD', KEYS[2], '*', 'entry', ARGV[i + 3], 'seq', ARGV[i], 'prev', ARGV[i + 1], 'hash', ARGV[i + 2])
  last = ARGV[i] .. ':' .. ARGV[i + 2]
end
redis.call('SET', KEYS[1], last)
return 'OK'
`;

/** Moves the signed anchor forward and drops every entry before the first one kept. */
const TRIM_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, doc = pcall(cjson.decode, cur)
  if ok and type(doc) == 'table' and tonumber(doc.seq) and tonumber(doc.seq) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return redis.call('XTRIM', KEYS[2], 'MINID', ARGV[3])
`;

export type AuditRow = AuditEntry & { readonly at: string; readonly seq?: number };

export interface AuditQuery {
  readonly user?: string;
  readonly command?: string;
  readonly sinceMs?: number;
  readonly limit?: number;
}

/** What `/cdb audit` reads. */
export interface AuditReader {
  query(q: AuditQuery): Promise<AuditRow[]>;
}

export function auditKeys(streamKey: string): { stream: string; head: string; anchor: string } {
  return { stream: streamKey, head: `${streamKey}:head`, anchor: `${streamKey}:anchor` };
}

export class AuditLog implements AuditReader {
  private head: ChainHead | undefined;
  private readonly key: string;
  private readonly keys: ReturnType<typeof auditKeys>;
  private appended = 0;
  /**
   * Entries waiting for the append in flight: this process appends one batch at a time (concurrent
   * appends would only race each other for the head), and everything that queued meanwhile goes in
   * the next batch, so a burst costs a few round trips, not one per entry.
   */
  private pending: { json: string; done: (err?: unknown) => void }[] = [];
  private flushing = false;

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
    private readonly streamKey: string,
    private readonly maxLen: number,
    /** HMAC key of the chain (CDB_AUDIT_KEY_FILE); without it the chain is unkeyed. */
    key?: string,
  ) {
    this.key = key ?? UNKEYED;
    this.keys = auditKeys(streamKey);
  }

  /** One structured log line and one chained stream entry per event; a Redis failure never hides the log line. */
  async record(entry: AuditEntry): Promise<void> {
    const safe = { ...entry, args: redactArgs(entry.args) };
    this.log.info({ audit: true, ...safe }, `audit ${entry.command} ${entry.outcome}`);
    try {
      const json = JSON.stringify({ ...safe, at: new Date().toISOString() });
      await new Promise<void>((resolve, reject) => {
        this.pending.push({ json, done: (err) => (err ? reject(err) : resolve()) });
        void this.flush();
      });
    } catch (err) {
      this.log.error({ err, requestId: entry.requestId }, 'audit stream append failed');
    }
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pending.length) {
        const batch = this.pending.splice(0, 200);
        try {
          await this.append(batch.map((b) => b.json));
          for (const b of batch) b.done();
        } catch (err) {
          for (const b of batch) b.done(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Compare-and-append: the writer links to the head it knows (cached, so usually one round trip);
   * if another process appended meanwhile, the script answers the new head and we link again.
   */
  private async append(jsons: string[]): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const head = this.head ?? parseHead(await this.redis.get(this.keys.head));
      const args: string[] = [];
      let prev = head.hash;
      jsons.forEach((json, i) => {
        const seq = head.seq + 1 + i;
        const hash = linkHash(this.key, prev, seq, json);
        args.push(String(seq), prev, hash, json);
        prev = hash;
      });
      const res = (await this.redis.eval(APPEND_LUA, 2, this.keys.head, this.keys.stream, `${head.seq}:${head.hash}`, `0:${GENESIS}`, ...args)) as string;
      if (res === 'OK') {
        const last = head.seq + jsons.length;
        this.head = { seq: last, hash: prev };
        const before = this.appended;
        this.appended += jsons.length;
        // Every 50 appends of this process, or when the chain passes a multiple of 500 (any writer).
        if (Math.floor(before / 50) !== Math.floor(this.appended / 50) || Math.floor(head.seq / 500) !== Math.floor(last / 500)) await this.trim();
        return;
      }
      this.head = parseHead(res);
    }
    throw new Error('audit chain: too much contention appending');
  }

  /** Caps the stream at maxLen; the last dropped entry becomes the signed anchor the rest links to. */
  async trim(): Promise<number> {
    let removed = 0;
    // Another writer may trim at the same moment: a stale read or a lost race is read again.
    for (let attempt = 0; attempt < 5; attempt++) {
      const len = await this.redis.xlen(this.keys.stream);
      const excess = len - this.maxLen;
      if (excess <= 0) return removed;
      const dropped = await this.redis.xrange(this.keys.stream, '-', '+', 'COUNT', excess + 1);
      const firstKept = dropped[excess];
      if (!firstKept) continue;
      // The last chained entry dropped; entries written before the chain existed have nothing to anchor.
      const last = dropped.slice(0, excess).reverse().map(([, fl]) => fieldsOf(fl)).find((fl) => Number.isInteger(Number(fl.seq)) && fl.hash);
      if (!last) {
        removed += await this.redis.xtrim(this.keys.stream, 'MINID', firstKept[0]);
        continue;
      }
      const seq = Number(last.seq);
      const anchor = signCheckpoint(this.key, { kind: 'anchor', seq, hash: last.hash ?? GENESIS, at: new Date().toISOString() });
      removed += Number(await this.redis.eval(TRIM_LUA, 2, this.keys.anchor, this.keys.stream, JSON.stringify(anchor), String(seq), firstKept[0]));
    }
    return removed;
  }

  /** The newest entry's seq and hash, signed: what checkpoints publish. */
  async checkpoint(): Promise<Checkpoint | undefined> {
    const head = parseHead(await this.redis.get(this.keys.head));
    if (!head.seq) return undefined;
    return signCheckpoint(this.key, { kind: 'checkpoint', seq: head.seq, hash: head.hash, at: new Date().toISOString() });
  }

  async recent(count = 20): Promise<AuditRow[]> {
    return this.query({ limit: count });
  }

  /** Newest first, filtered by actor (user id) and/or command, back to `sinceMs` at most. */
  async query(q: AuditQuery): Promise<AuditRow[]> {
    const limit = q.limit ?? 20;
    const out: AuditRow[] = [];
    let end = '+';
    // Pages of 200 from the newest, until enough matches or the window or the stream ends.
    for (let page = 0; page < 100 && out.length < limit; page++) {
      const rows = await this.redis.xrevrange(this.keys.stream, end, '-', 'COUNT', 200);
      for (const [id, fields] of rows) {
        if (q.sinceMs !== undefined && Number(id.split('-')[0]) < q.sinceMs) return out;
        const f = fieldsOf(fields);
        let row: AuditRow;
        try {
          row = { ...(JSON.parse(f.entry ?? '{}') as AuditRow), seq: f.seq ? Number(f.seq) : undefined };
        } catch {
          continue;
        }
        if (q.user && row.actor?.userId !== q.user) continue;
        if (q.command && row.command !== q.command) continue;
        out.push(row);
        if (out.length >= limit) return out;
      }
      if (rows.length < 200) return out;
      end = `(${rows[rows.length - 1]?.[0] ?? '0-0'}`;
    }
    return out;
  }
}

export function fieldsOf(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i] as string] = list[i + 1] as string;
  return out;
}
