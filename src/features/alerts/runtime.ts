import { OpsError } from '../../shared/errors.ts';
import type { Config } from '../../shared/config/schema.ts';
import type { JobEnvelope } from '../../shared/contracts/envelope.ts';
import { keyPrefix } from '../../shared/queue/names.ts';
import type { AlertRuntime } from './check.ts';
import type { Trigger } from './symptoms.ts';

/** The job (jobs/alerts-tick.ts) every scheduled, event and follow-up check runs as. */
export const ALERTS_JOB = 'alerts-tick';
export const ALERTS_SCHEDULER_ID = 'alerts-tick';

/**
 * Jobs get Docker, config and notify from the worker, but not Redis or the Loki client: the watcher
 * started in the same process registers them here, per key prefix (tests run several at once).
 */
const runtimes = new Map<string, AlertRuntime[]>();

export function registerAlertRuntime(config: Pick<Config, 'redis'>, runtime: AlertRuntime): () => void {
  const key = keyPrefix(config);
  runtimes.set(key, [...(runtimes.get(key) ?? []), runtime]);
  return () => {
    const left = (runtimes.get(key) ?? []).filter((r) => r !== runtime);
    if (left.length) runtimes.set(key, left);
    else runtimes.delete(key);
  };
}

export function alertRuntimeFor(config: Pick<Config, 'redis'>): AlertRuntime {
  const found = runtimes.get(keyPrefix(config))?.[0];
  if (!found) throw new OpsError('ALERTS_NOT_RUNNING', 'The alert watcher is not running in this worker process (startAlertWatcher was not called).');
  return found;
}

/** The job data of a check: no user, a schedule origin, identifiers only. */
export function checkEnvelope(requestId: string, args: { trigger: Trigger; containers?: string[] }): JobEnvelope {
  return {
    requestId,
    command: ALERTS_JOB,
    args,
    actor: { userId: 'local:alerts', teamId: 'local', name: 'alert watcher' },
    origin: { kind: 'schedule' },
    requestedAt: Date.now(),
  };
}
