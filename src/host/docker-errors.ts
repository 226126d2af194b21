import { OpsError } from '../shared/errors.ts';
import { dockerErrorsTotal } from '../shared/metrics.ts';

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET']);

/** Wraps an Engine API call so that an unreachable daemon becomes a clear, stable error. */
export async function dockerCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    dockerErrorsTotal.inc({ code: code ?? String((err as { statusCode?: number }).statusCode ?? 'other') });
    if (code && UNREACHABLE.has(code)) {
      throw new OpsError('DOCKER_UNAVAILABLE', `The Docker Engine is not reachable (${code} while trying to ${what}). Is dockerd running, and can the worker reach its socket?`, { cause: err });
    }
    throw err;
  }
}
