/**
 * The per-container incident state machine, as pure functions: ok → pending (group wait) → firing
 * → (K healthy scheduled checks) → ok, with Alertmanager-like noise control. The caller persists
 * the state (src/features/alerts/store.ts) and turns the events into Slack notices (src/features/alerts/render.ts).
 */
import { type Baseline, type Observation, type Symptom, type SymptomKind, type SymptomSettings, SYMPTOM_ORDER, evaluate, kindLabel } from './symptoms.ts';

export interface IncidentSettings extends SymptomSettings {
  readonly resolveAfterChecks: number;
  readonly groupWaitMs: number;
  readonly repeatIntervalMs: number;
  readonly flapWindowMs: number;
  readonly flapMaxIncidents: number;
  /** Detail-only changes (restart and error counts) edit the root message at most this often. */
  readonly rootRefreshMs: number;
}

export interface HistoryEntry {
  readonly at: number;
  readonly text: string;
}

export interface Incident {
  readonly id: string;
  /** First symptom seen (start of group wait). */
  readonly openedAt: number;
  /** When the root message went out; undefined while pending. */
  readonly firedAt?: number;
  readonly resolvedAt?: number;
  /** Every kind seen during the incident; `active` is what is wrong right now. */
  readonly kinds: readonly SymptomKind[];
  readonly active: readonly Symptom[];
  readonly peakErrors: number;
  readonly restartsAtOpen?: number;
  readonly healthyChecks: number;
  readonly flapping: boolean;
  readonly lastThreadAt: number;
  readonly rootUpdatedAt: number;
  /** What the root message shows; a change (subject to rootRefreshMs) edits it. */
  readonly rootKey: string;
  readonly history: readonly HistoryEntry[];
}

export type Phase = 'ok' | 'pending' | 'firing';

export interface ContainerState {
  readonly name: string;
  readonly service: string;
  readonly phase: Phase;
  readonly baseline: Baseline;
  readonly incident?: Incident;
  /** The last resolved incident: a flapping container reopens it instead of starting a new thread. */
  readonly lastIncident?: Incident;
  /** Start times of recent incidents (open or reopen), for flap detection. */
  readonly recentOpens: readonly number[];
  readonly restartCount?: number;
  readonly seenAt: number;
}

export type AlertEvent =
  | { readonly type: 'opened' }
  | { readonly type: 'reopened' }
  | { readonly type: 'escalated'; readonly added: readonly SymptomKind[] }
  | { readonly type: 'refreshed' }
  | { readonly type: 'repeated' }
  | { readonly type: 'resolved' };

export interface Transition {
  readonly next: ContainerState;
  readonly events: readonly AlertEvent[];
  /** A pending incident wants another look at this time (end of group wait). */
  readonly followupAt?: number;
}

const HISTORY_MAX = 30;

export function emptyState(name: string, service: string, at: number): ContainerState {
  return { name, service, phase: 'ok', baseline: { dockerSymptoms: [] }, recentOpens: [], seenAt: at };
}

export function incidentId(name: string, openedAt: number): string {
  return `${name.slice(0, 90)}.${openedAt.toString(36)}`;
}

function describe(symptoms: readonly Symptom[]): string {
  return symptoms.map((s) => `${kindLabel(s.kind)} (${s.detail})`).join(', ');
}

function rootKeyOf(i: Pick<Incident, 'active' | 'flapping' | 'healthyChecks'>, phase: Phase): string {
  return JSON.stringify([phase, i.flapping, i.healthyChecks > 0, i.active.map((s) => [s.kind, s.detail])]);
}

function withHistory(i: Incident, at: number, text: string): Incident {
  return { ...i, history: [...i.history, { at, text }].slice(-HISTORY_MAX) };
}

function union(a: readonly SymptomKind[], b: readonly Symptom[]): SymptomKind[] {
  const set = new Set([...a, ...b.map((s) => s.kind)]);
  return SYMPTOM_ORDER.filter((k) => set.has(k));
}

function fire(i: Incident, at: number, phase: Phase): Incident {
  return { ...i, firedAt: i.firedAt ?? at, lastThreadAt: at, rootUpdatedAt: at, rootKey: rootKeyOf(i, phase) };
}

/** One observation of one container: the next state and what to say about it. */
export function transition(prev: ContainerState, obs: Observation, s: IncidentSettings): Transition {
  const { symptoms, next: baseline } = evaluate(obs, prev.baseline, s);
  const at = obs.at;
  const service = obs.docker?.service ?? prev.service;
  const restartCount = obs.docker ? obs.docker.restartCount : prev.restartCount;
  const seenAt = obs.docker || (obs.errors ?? 0) > 0 ? at : prev.seenAt;
  const base: ContainerState = { ...prev, service, baseline, restartCount, seenAt, recentOpens: prev.recentOpens.filter((t) => at - t < s.flapWindowMs) };
  const errors = symptoms.find((x) => x.kind === 'errors') ? baseline.errors ?? 0 : 0;

  if (prev.phase === 'ok' || !prev.incident) {
    if (!symptoms.length) return { next: { ...base, phase: 'ok', incident: undefined }, events: [] };
    const last = prev.lastIncident;
    const flapping = last?.resolvedAt !== undefined && at - last.resolvedAt < s.flapWindowMs && base.recentOpens.length + 1 >= s.flapMaxIncidents;
    if (last && flapping) {
      const reopened = withHistory(
        { ...last, resolvedAt: undefined, active: symptoms, kinds: union(last.kinds, symptoms), healthyChecks: 0, flapping: true, peakErrors: Math.max(last.peakErrors, errors) },
        at,
        `reopened: ${describe(symptoms)} — flapping (${base.recentOpens.length + 1} incidents within ${Math.round(s.flapWindowMs / 60_000)} min)`,
      );
      const incident = fire(reopened, at, 'firing');
      return { next: { ...base, phase: 'firing', incident, lastIncident: undefined, recentOpens: [...base.recentOpens, at] }, events: [{ type: 'reopened' }] };
    }
    const fresh: Incident = withHistory(
      {
        id: incidentId(prev.name, at), openedAt: at, kinds: union([], symptoms), active: symptoms, peakErrors: errors,
        restartsAtOpen: restartCount, healthyChecks: 0, flapping: false, lastThreadAt: 0, rootUpdatedAt: 0, rootKey: '', history: [],
      },
      at,
      `firing: ${describe(symptoms)}`,
    );
    const opened = { ...base, recentOpens: [...base.recentOpens, at] };
    if (s.groupWaitMs > 0) return { next: { ...opened, phase: 'pending', incident: fresh }, events: [], followupAt: at + s.groupWaitMs };
    return { next: { ...opened, phase: 'firing', incident: fire(fresh, at, 'firing') }, events: [{ type: 'opened' }] };
  }

  let i: Incident = prev.incident;
  const added = symptoms.map((x) => x.kind).filter((k) => !i.kinds.includes(k));
  const cleared = i.active.filter((x) => !symptoms.some((y) => y.kind === x.kind));
  i = { ...i, active: symptoms, kinds: union(i.kinds, symptoms), peakErrors: Math.max(i.peakErrors, errors) };

  if (prev.phase === 'pending') {
    if (added.length) i = withHistory(i, at, `also ${describe(symptoms.filter((x) => added.includes(x.kind)))}`);
    // Group wait is a batching delay: what was seen during it is reported even if it is quiet now.
    if (!symptoms.length) i = { ...i, active: prev.incident.active };
    if (at < i.openedAt + s.groupWaitMs) return { next: { ...base, phase: 'pending', incident: i }, events: [], followupAt: i.openedAt + s.groupWaitMs };
    return { next: { ...base, phase: 'firing', incident: fire(i, at, 'firing') }, events: [{ type: 'opened' }] };
  }

  const events: AlertEvent[] = [];
  if (added.length) i = withHistory(i, at, `also ${describe(symptoms.filter((x) => added.includes(x.kind)))}`);
  for (const c of cleared) if (symptoms.length) i = withHistory(i, at, `${kindLabel(c.kind)} cleared`);
  if (symptoms.length) {
    i = { ...i, healthyChecks: 0 };
  } else if (obs.trigger === 'tick') {
    // Only scheduled checks count: event checks would make recovery depend on how noisy Docker is.
    if (i.healthyChecks === 0) i = withHistory(i, at, 'recovering: no symptoms');
    i = { ...i, healthyChecks: i.healthyChecks + 1 };
  }

  if (!symptoms.length && i.healthyChecks >= s.resolveAfterChecks) {
    const resolved = withHistory({ ...i, resolvedAt: at, active: [] }, at, `resolved after ${i.healthyChecks} healthy check${i.healthyChecks === 1 ? '' : 's'}`);
    const done = { ...resolved, rootUpdatedAt: at, rootKey: rootKeyOf(resolved, 'ok') };
    return { next: { ...base, phase: 'ok', incident: undefined, lastIncident: done }, events: [{ type: 'resolved' }] };
  }

  if (added.length) {
    events.push({ type: 'escalated', added });
    i = { ...i, lastThreadAt: at, rootUpdatedAt: at, rootKey: rootKeyOf(i, 'firing') };
  } else if (at - i.lastThreadAt >= s.repeatIntervalMs) {
    events.push({ type: 'repeated' });
    i = { ...i, lastThreadAt: at, rootUpdatedAt: at, rootKey: rootKeyOf(i, 'firing') };
  } else {
    const key = rootKeyOf(i, 'firing');
    if (key !== i.rootKey && at - i.rootUpdatedAt >= s.rootRefreshMs) {
      events.push({ type: 'refreshed' });
      i = { ...i, rootUpdatedAt: at, rootKey: key };
    }
  }
  return { next: { ...base, phase: 'firing', incident: i }, events };
}

/** True when nothing worth writing changed (the caller skips the Redis write). */
export function sameState(a: ContainerState, b: ContainerState): boolean {
  return JSON.stringify({ ...a, seenAt: 0 }) === JSON.stringify({ ...b, seenAt: 0 }) && Math.abs(a.seenAt - b.seenAt) < 3_600_000;
}
