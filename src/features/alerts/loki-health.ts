/**
 * Whether Loki-based monitoring works, as a tiny state machine: after N failed ticks in a row one
 * "degraded" notice, after the first good tick one "recovered" notice, nothing in between.
 */
export interface LokiHealth {
  readonly status: 'ok' | 'degraded';
  readonly failures: number;
  /** First failure of the current run of failures. */
  readonly failingSince?: number;
  readonly lastError?: string;
  /** Names the notice thread of the current (or last) degradation. */
  readonly episode?: string;
  readonly degradedAt?: number;
}

export type LokiHealthEvent = { readonly type: 'degraded' } | { readonly type: 'recovered'; readonly downMs: number };

export const LOKI_OK: LokiHealth = { status: 'ok', failures: 0 };

export function lokiTransition(prev: LokiHealth, result: { ok: true } | { ok: false; error: string }, at: number, degradeAfter: number): { next: LokiHealth; events: LokiHealthEvent[] } {
  if (result.ok) {
    if (prev.status === 'degraded') {
      const since = prev.degradedAt ?? prev.failingSince ?? at;
      return { next: { status: 'ok', failures: 0, episode: prev.episode }, events: [{ type: 'recovered', downMs: at - (prev.failingSince ?? since) }] };
    }
    return { next: prev.failures || prev.lastError ? { status: 'ok', failures: 0, episode: prev.episode } : prev, events: [] };
  }
  const failures = prev.failures + 1;
  const failingSince = prev.failingSince ?? at;
  if (prev.status === 'ok' && failures >= degradeAfter) {
    return { next: { status: 'degraded', failures, failingSince, lastError: result.error, episode: `loki.${at.toString(36)}`, degradedAt: at }, events: [{ type: 'degraded' }] };
  }
  return { next: { ...prev, failures, failingSince, lastError: result.error }, events: [] };
}
