import { OpsError } from '../../shared/errors.ts';
import { dockerCall } from '../../host/docker-errors.ts';

/** An Engine API call that did not answer in time. */
export class EngineTimeout extends Error {
  constructor(readonly what: string, readonly ms: number) {
    super(`the Docker Engine did not answer within ${Math.round(ms / 100) / 10} s (${what})`);
    this.name = 'EngineTimeout';
  }
}

export function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number }).statusCode === 404;
}

/**
 * Runs one Engine API call with its own time limit, also aborted when the job is: a slow daemon
 * makes one report line, never a hung doctor. `call` gets the signal to hand to dockerode.
 */
export async function engineCall<T>(what: string, timeoutMs: number, parent: AbortSignal | undefined, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  if (parent?.aborted) throw parent.reason instanceof Error ? parent.reason : new Error('aborted');
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, timeoutMs);
  const onParent = () => abort.abort();
  parent?.addEventListener('abort', onParent, { once: true });
  // dockerode does not reject on every abort path (e.g. a socket that never answers): race it.
  const aborted = new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
  try {
    return await Promise.race([dockerCall(what, () => call(abort.signal)), aborted]);
  } catch (err) {
    if (timedOut) throw new EngineTimeout(what, timeoutMs);
    if (parent?.aborted) throw parent.reason instanceof Error ? parent.reason : err;
    throw err;
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener('abort', onParent);
  }
}

/** A listing the whole run depends on failed: the daemon is down or too slow to diagnose anything. */
export function unavailable(err: unknown, what: string): OpsError {
  if (err instanceof OpsError) return err;
  if (err instanceof EngineTimeout) {
    return new OpsError('DOCKER_UNAVAILABLE', `The Docker Engine is too slow: it did not answer within ${Math.round(err.ms / 1000)} s while trying to ${what}. Check the host's load (doctor.timeoutSeconds sets the limit).`, { cause: err });
  }
  return new OpsError('DOCKER_UNAVAILABLE', `The Docker Engine failed while trying to ${what}: ${(err as Error).message.split('\n')[0]?.slice(0, 200)}`, { cause: err });
}
