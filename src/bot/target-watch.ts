import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Notice } from '../shared/contracts/envelope.ts';
import { ago, isLive, type TargetStatus } from '../shared/targets-view.ts';

export interface TargetWatchDeps {
  readonly redis: Redis;
  readonly prefix: string;
  overview(): Promise<TargetStatus[]>;
  notify(notice: Notice): Promise<void>;
  readonly log: Logger;
  readonly intervalMs?: number;
}

/**
 * Watches the workers' heartbeats from the bot (the one process that is up when a target's last
 * worker is not) and says it once in the alerts channel when a target loses its workers and once
 * when one is back. The last state per target is swapped atomically in Redis, so several bots
 * sharing one Redis still post each change once.
 */
export function startTargetWatch(deps: TargetWatchDeps): { close(): Promise<void>; tick(): Promise<void> } {
  const key = (t: string) => `${deps.prefix}:targets:state:${t}`;
  const tick = async (): Promise<void> => {
    for (const t of await deps.overview()) {
      if (!t.explicit) continue;
      const now = isLive(t) ? 'up' : 'down';
      const before = await deps.redis.set(key(t.name), now, 'GET');
      if (before === null || before === now) continue;
      const workers = t.workers.map((w) => w.host).filter((h, i, a) => a.indexOf(h) === i).join(', ') || 'none';
      const text = now === 'down'
        ? `:red_circle: Target *${t.name}*: no worker has been seen for ${ago(t.now - (t.lastSeen ?? t.now))} (last: ${workers}). Commands for ${t.name} are refused until one is back.`
        : `:large_green_circle: Target *${t.name}*: a worker is back (${workers}). Commands for ${t.name} run again.`;
      await deps.notify({ type: 'notice', key: `target-${t.name}-${now}-${t.now}`, action: 'root', text });
      deps.log.warn({ target: t.name, state: now }, 'target worker state changed');
    }
  };
  let busy: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (busy) return;
    busy = tick().catch((err: unknown) => deps.log.warn({ err }, 'target watch failed')).finally(() => (busy = undefined));
  }, deps.intervalMs ?? 5000);
  return {
    tick,
    async close() {
      clearInterval(timer);
      await busy;
    },
  };
}
