import type { Redis } from 'ioredis';
import type { Config } from '../../shared/config/schema.ts';
import { keyPrefix } from '../../shared/queue/names.ts';
import { LOKI_OK, type LokiHealth, lokiTransition } from './loki-health.ts';
import { lokiDegradedNotice, lokiRecoveredNotices, type OutgoingNotice } from './render.ts';
import { alertKeys, VersionedHash } from './store.ts';
import { acquireLock } from '../../shared/lock.ts';

export interface LokiWatchDeps {
  readonly config: Config;
  readonly redis: Redis;
  notify(n: OutgoingNotice): Promise<void>;
}

/**
 * Records one Loki query outcome in the shared state and says something only on a change of
 * status: one "degraded" notice per outage and one "recovered" reply, however many ticks fail.
 */
export async function recordLokiResult(deps: LokiWatchDeps, result: { ok: true } | { ok: false; error: string }, at: number): Promise<void> {
  const keys = alertKeys(keyPrefix(deps.config));
  const hash = new VersionedHash<LokiHealth>(deps.redis, keys.meta);
  const current = await hash.get('loki');
  const quick = lokiTransition(current?.value ?? LOKI_OK, result, at, deps.config.alerts.lokiDegradedAfterFailures);
  if (!quick.events.length) {
    if (quick.next !== (current?.value ?? LOKI_OK)) await hash.cas([{ field: 'loki', expectedRev: current?.rev ?? 0, value: quick.next }]);
    return;
  }
  const lock = await acquireLock(deps.redis, keys.lock('~loki'), { ttlMs: 15_000, waitMs: 5_000, owner: 'alerts' });
  if (!lock) return;
  try {
    const fresh = await hash.get('loki');
    const t = lokiTransition(fresh?.value ?? LOKI_OK, result, at, deps.config.alerts.lokiDegradedAfterFailures);
    if ((await hash.cas([{ field: 'loki', expectedRev: fresh?.rev ?? 0, value: t.next }])).length) return;
    for (const e of t.events) {
      if (e.type === 'degraded') await deps.notify(lokiDegradedNotice(t.next.episode ?? 'loki', t.next.lastError ?? 'unknown error', t.next.failingSince ?? at));
      else for (const n of lokiRecoveredNotices(t.next.episode ?? 'loki', e.downMs)) await deps.notify(n);
    }
  } finally {
    await lock.release();
  }
}

export async function lokiDegraded(deps: Pick<LokiWatchDeps, 'config' | 'redis'>): Promise<boolean> {
  const current = await new VersionedHash<LokiHealth>(deps.redis, alertKeys(keyPrefix(deps.config)).meta).get('loki');
  return current?.value.status === 'degraded';
}
