import type { Redis } from 'ioredis';

/** How a target looks to its worker right now: the one line `/cdb status` shows per target. */
export interface TargetSummary {
  readonly project: string;
  readonly running: number;
  readonly total: number;
  readonly unhealthy: number;
  /** Set when the worker cannot reach the target's Docker engine. */
  readonly error?: string;
}

/** What a worker writes into Redis every few seconds (`<prefix>:workers:<id>`). */
export interface WorkerBeat {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  readonly targets: readonly string[];
  readonly concurrency: number;
  readonly startedAt: number;
  readonly lastSeen: number;
  readonly summaries: Readonly<Record<string, TargetSummary>>;
}

export const HEARTBEAT_MS = 5000;

export const heartbeatKeys = (prefix: string) => ({
  /** Sorted set per target: worker id → last heartbeat (ms). Kept after a worker stops, so "not seen for N s" can be said. */
  seen: (target: string) => `${prefix}:targets:seen:${target}`,
  worker: (id: string) => `${prefix}:workers:${id}`,
});

export async function writeBeat(redis: Redis, prefix: string, beat: WorkerBeat): Promise<void> {
  const k = heartbeatKeys(prefix);
  const m = redis.multi();
  m.set(k.worker(beat.id), JSON.stringify(beat), 'PX', 24 * 3600_000);
  for (const t of beat.targets) {
    m.zadd(k.seen(t), beat.lastSeen, beat.id);
    // Workers gone for a day are forgotten.
    m.zremrangebyscore(k.seen(t), '-inf', beat.lastSeen - 24 * 3600_000);
  }
  await m.exec();
}

/** The bot's view of the workers, per target. */
export class HeartbeatReader {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  /** Milliseconds epoch of the latest heartbeat of any worker of `target`, or undefined if none ever. */
  async lastSeen(target: string): Promise<number | undefined> {
    const [, score] = await this.redis.zrevrange(heartbeatKeys(this.prefix).seen(target), 0, 0, 'WITHSCORES');
    return score === undefined ? undefined : Number(score);
  }

  async workers(target: string): Promise<WorkerBeat[]> {
    const k = heartbeatKeys(this.prefix);
    const ids = await this.redis.zrevrange(k.seen(target), 0, 49);
    if (!ids.length) return [];
    const raw = await this.redis.mget(ids.map((id) => k.worker(id)));
    return raw.flatMap((r) => (r ? [JSON.parse(r) as WorkerBeat] : []));
  }

  async now(): Promise<number> {
    const [s, us] = await this.redis.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  }
}
