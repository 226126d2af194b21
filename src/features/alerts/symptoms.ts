/** What is wrong with a container, derived from one observation (pure functions). */

export type SymptomKind = 'exited' | 'restarting' | 'unhealthy' | 'errors';
export const SYMPTOM_ORDER: readonly SymptomKind[] = ['exited', 'restarting', 'unhealthy', 'errors'];

export interface Symptom {
  readonly kind: SymptomKind;
  /** Short human text, e.g. "exit 1, 7 restarts" or "42 error lines in 5m". */
  readonly detail: string;
}

/** A container as the Engine API shows it (list + inspect). */
export interface DockerObservation {
  readonly id: string;
  readonly name: string;
  readonly service: string;
  readonly state: string;
  readonly health?: 'healthy' | 'unhealthy' | 'starting';
  readonly exitCode?: number;
  readonly oomKilled?: boolean;
  readonly restartCount: number;
  /** Restarted by its policy moments ago: crash-looping even while caught "running" between crashes. */
  readonly crashLoop?: boolean;
  /** Output of the last failed health probe, if any (redacted before it leaves the worker). */
  readonly healthOutput?: string;
}

export type Trigger = 'tick' | 'event' | 'followup';

export interface Observation {
  readonly at: number;
  readonly trigger: Trigger;
  /** undefined: Docker was not asked (or failed) this time; null: no such container. */
  readonly docker?: DockerObservation | null;
  /** undefined: Loki was not asked (or failed) this time; otherwise error lines in the window. */
  readonly errors?: number;
}

export interface SymptomSettings {
  readonly errorThreshold: number;
  readonly errorWindow: string;
}

/** What the last observation left behind, so the next one can compare. */
export interface Baseline {
  readonly containerId?: string;
  readonly restartCount?: number;
  readonly dockerSymptoms: readonly Symptom[];
  readonly errors?: number;
}

export function byKind(a: Symptom, b: Symptom): number {
  return SYMPTOM_ORDER.indexOf(a.kind) - SYMPTOM_ORDER.indexOf(b.kind);
}

export function kindLabel(kind: SymptomKind): string {
  return { exited: 'exited', restarting: 'restarting', unhealthy: 'unhealthy', errors: 'error burst' }[kind];
}

/** Docker-side symptoms. A rising restart count counts even if the container is up again by now. */
export function dockerSymptoms(d: DockerObservation, base: Baseline): Symptom[] {
  const out: Symptom[] = [];
  const sameContainer = base.containerId === d.id && base.restartCount !== undefined;
  const rise = sameContainer ? Math.max(0, d.restartCount - (base.restartCount ?? 0)) : 0;
  const exit = d.exitCode !== undefined && d.exitCode !== 0 ? `exit ${d.exitCode}${d.oomKilled ? ', OOM killed' : ''}` : d.oomKilled ? 'OOM killed' : '';
  if (d.state === 'restarting' || rise > 0 || d.crashLoop) {
    out.push({ kind: 'restarting', detail: [exit, `${d.restartCount} restart${d.restartCount === 1 ? '' : 's'}`].filter(Boolean).join(', ') });
  } else if ((d.state === 'exited' || d.state === 'dead') && (d.exitCode ?? 0) !== 0) {
    out.push({ kind: 'exited', detail: `${d.state}, ${exit}` });
  } else if (d.state === 'dead') {
    out.push({ kind: 'exited', detail: 'dead' });
  }
  if (d.health === 'unhealthy') out.push({ kind: 'unhealthy', detail: 'health check failing' });
  return out;
}

/**
 * All active symptoms. A source not asked this time (Docker for containers outside an event check,
 * Loki between ticks or while it is down) keeps what it said last: unknown is not healthy.
 */
export function evaluate(obs: Observation, base: Baseline, s: SymptomSettings): { symptoms: Symptom[]; next: Baseline } {
  let docker: readonly Symptom[] = base.dockerSymptoms;
  let containerId = base.containerId;
  let restartCount = base.restartCount;
  if (obs.docker === null) {
    docker = [];
    containerId = undefined;
    restartCount = undefined;
  } else if (obs.docker) {
    docker = dockerSymptoms(obs.docker, base);
    containerId = obs.docker.id;
    restartCount = obs.docker.restartCount;
  }
  const errors = obs.errors ?? base.errors;
  const symptoms = [...docker];
  if (errors !== undefined && errors >= s.errorThreshold) {
    symptoms.push({ kind: 'errors', detail: `${errors} error line${errors === 1 ? '' : 's'} in ${s.errorWindow}` });
  }
  return { symptoms: symptoms.sort(byKind), next: { containerId, restartCount, dockerSymptoms: docker, errors } };
}
