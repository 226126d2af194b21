import type Docker from 'dockerode';
import { OpsError } from '../shared/errors.ts';

/** An Engine API request sent and not answered yet (for a stream: no response headers yet). */
export interface PendingDockerCall {
  readonly method: string;
  readonly path: string;
  readonly since: number;
}

type DialOptions = { method?: string; path?: string };
type Dial = (options: DialOptions, callback?: (...args: unknown[]) => void) => unknown;
interface Modem { dial: Dial }

const pendingByDocker = new WeakMap<Docker, Set<PendingDockerCall>>();

/**
 * Records every Engine API request until its answer starts, so that a job stopped by its time limit
 * can say that Docker, not the job, was slow: a daemon that accepts connections and never answers
 * leaves requests pending forever (dockerode has no timeout by default). Idempotent.
 */
export function watchDocker(docker: Docker): Docker {
  if (pendingByDocker.has(docker)) return docker;
  const pending = new Set<PendingDockerCall>();
  pendingByDocker.set(docker, pending);
  const modem = (docker as unknown as { modem?: Modem }).modem;
  if (!modem || typeof modem.dial !== 'function') return docker;
  const dial = modem.dial.bind(modem);
  modem.dial = (options, callback) => {
    // The version prefix is added inside dial; the path before it is what the job asked for.
    const call: PendingDockerCall = { method: options.method ?? 'GET', path: (options.path ?? '').replace(/\?$/, ''), since: Date.now() };
    pending.add(call);
    return dial(options, (...args: unknown[]) => {
      pending.delete(call);
      callback?.(...args);
    });
  };
  return docker;
}

/** The oldest Engine request still unanswered that was sent at or after `since`. */
export function stalledDockerCall(docker: Docker, since: number): PendingDockerCall | undefined {
  let oldest: PendingDockerCall | undefined;
  for (const call of pendingByDocker.get(docker) ?? []) {
    if (call.since >= since && (!oldest || call.since < oldest.since)) oldest = call;
  }
  return oldest;
}

/**
 * What a job's time limit becomes when Docker is what it was waiting for: DOCKER_UNAVAILABLE naming
 * the request and how long it went unanswered, instead of a bare JOB_TIMEOUT.
 */
export function dockerTimeoutError(command: string, call: PendingDockerCall, limitMs: number, now = Date.now()): OpsError {
  const waited = Math.max(1, Math.round((now - call.since) / 1000));
  return new OpsError(
    'DOCKER_UNAVAILABLE',
    `\`${command}\` was stopped after ${Math.round(limitMs / 1000)} s: the Docker Engine accepted the connection but did not answer \`${call.method} ${call.path}\` for ${waited} s. Docker is what was slow: check that dockerd is responsive on the worker's host (\`docker info\`) and that \`stack.docker\` points at it.`,
  );
}
