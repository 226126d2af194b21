import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Journals of operations that change the stack, in Redis (the only state workers share).
 * A journal is written before and after every step, and lives while its owner renews a liveness
 * key with a short TTL. A journal that is still open while its liveness key is gone belongs to a
 * dead owner: any worker may then finish or revert it (see src/rollback/recover.ts).
 *
 *   <prefix>:journal:<id>          the journal (JSON), kept 7 days after it ends
 *   <prefix>:journal:<id>:alive    the owner's heartbeat (PX JOURNAL_ALIVE_TTL_MS)
 *   <prefix>:journals:open:<scope> ids of journals not ended yet (scope: the compose project)
 */

export const JOURNAL_ALIVE_TTL_MS = 5000;
const ALIVE_EVERY_MS = 1000;
const ENDED_TTL_S = 7 * 24 * 3600;
const MAX_ENTRIES = 400;

export interface JournalEntry {
  readonly n: number;
  readonly step: string;
  readonly phase: 'begin' | 'done' | 'failed';
  readonly service?: string;
  readonly container?: string;
  readonly at: number;
  readonly detail?: string;
}

export interface JournalBase {
  readonly v: 1;
  readonly id: string;
  readonly kind: string;
  readonly scope: string;
  /** host#pid of the process that runs (or last ran) it. */
  owner: string;
  state: 'open' | 'ended';
  readonly startedAt: number;
  updatedAt: number;
  log: JournalEntry[];
}

/** host#pid#random: unique per process, readable in logs and messages. */
export const PROCESS_OWNER = `${hostname()}#${process.pid}#${randomBytes(3).toString('hex')}`;

export function journalKeys(prefix: string) {
  return {
    record: (id: string) => `${prefix}:journal:${id}`,
    alive: (id: string) => `${prefix}:journal:${id}:alive`,
    open: (scope: string) => `${prefix}:journals:open:${scope}`,
  };
}

export async function loadJournal<T extends JournalBase>(redis: Redis, prefix: string, id: string): Promise<T | undefined> {
  const raw = await redis.get(journalKeys(prefix).record(id));
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(raw) as T;
    return parsed && parsed.v === 1 && parsed.id === id ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a journal (open or ended) exists for this request: it then owns the request's outcome. */
export async function hasJournal(redis: Redis, prefix: string, id: string): Promise<boolean> {
  return (await redis.exists(journalKeys(prefix).record(id))) === 1;
}

export async function openJournalIds(redis: Redis, prefix: string, scope: string): Promise<string[]> {
  return redis.smembers(journalKeys(prefix).open(scope));
}

export async function journalAlive(redis: Redis, prefix: string, id: string): Promise<boolean> {
  return (await redis.exists(journalKeys(prefix).alive(id))) === 1;
}

/** Ends a journal whoever holds it (the recoverer's way): kept for reading, out of the open set. */
export async function endJournal<T extends JournalBase>(redis: Redis, prefix: string, data: T): Promise<void> {
  const keys = journalKeys(prefix);
  data.state = 'ended';
  data.updatedAt = Date.now();
  await redis
    .multi()
    .set(keys.record(data.id), JSON.stringify(data), 'EX', ENDED_TTL_S)
    .srem(keys.open(data.scope), data.id)
    .del(keys.alive(data.id))
    .exec();
}

/**
 * The owner's side: the journal in memory, written whole on every change, one write at a time
 * and in order; the liveness key renewed while the owner runs.
 */
export class JournalWriter<T extends JournalBase> {
  private chain: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly lostCtl = new AbortController();
  private n = 0;

  private constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly data: T,
  ) {}

  /** Writes the journal, marks it open and starts the heartbeat. */
  static async open<T extends JournalBase>(redis: Redis, prefix: string, data: T): Promise<JournalWriter<T>> {
    const keys = journalKeys(prefix);
    await redis
      .multi()
      .set(keys.record(data.id), JSON.stringify(data))
      .sadd(keys.open(data.scope), data.id)
      .set(keys.alive(data.id), data.owner, 'PX', JOURNAL_ALIVE_TTL_MS)
      .exec();
    const w = new JournalWriter(redis, prefix, data);
    w.n = data.log.length;
    w.timer = setInterval(() => w.beat(), ALIVE_EVERY_MS);
    w.timer.unref();
    return w;
  }

  /** Aborted when the heartbeat found its key gone: someone else may be recovering this journal. */
  get lost(): AbortSignal {
    return this.lostCtl.signal;
  }

  private beat(): void {
    // PEXPIRE, never SET: an expired heartbeat must stay expired, a recoverer may be at work.
    this.redis.pexpire(journalKeys(this.prefix).alive(this.data.id), JOURNAL_ALIVE_TTL_MS).then(
      (ok) => {
        if (ok !== 1) this.stopBeating(true);
      },
      () => undefined,
    );
  }

  private stopBeating(lost: boolean): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (lost && !this.lostCtl.signal.aborted) this.lostCtl.abort(new Error(`journal ${this.data.id}: liveness lost`));
  }

  /** Writes the current state; resolves once it (or a later write) is in Redis. */
  save(): Promise<void> {
    const write = this.chain.then(() => {
      this.data.updatedAt = Date.now();
      return this.redis.set(journalKeys(this.prefix).record(this.data.id), JSON.stringify(this.data));
    });
    this.chain = write.catch(() => undefined);
    return write.then(() => undefined);
  }

  /** Appends a log entry and writes the journal. */
  entry(e: Omit<JournalEntry, 'n' | 'at'>): Promise<void> {
    this.data.log.push({ ...e, n: ++this.n, at: Date.now() });
    if (this.data.log.length > MAX_ENTRIES) this.data.log.splice(0, this.data.log.length - MAX_ENTRIES);
    return this.save();
  }

  /** The operation is over and reported: kept for reading, no longer recoverable. */
  async end(): Promise<void> {
    this.stopBeating(false);
    await this.chain;
    await endJournal(this.redis, this.prefix, this.data);
  }

  /** Stops the heartbeat and leaves the journal open: a recoverer finishes or reverts it within seconds. */
  abandon(): void {
    this.stopBeating(false);
  }
}
