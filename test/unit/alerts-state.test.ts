import { describe, expect, it } from 'vitest';
import { type ContainerState, type IncidentSettings, type Transition, emptyState, sameState, transition } from '../../src/features/alerts/incident.ts';
import { LOKI_OK, lokiTransition } from '../../src/features/alerts/loki-health.ts';
import { type DockerObservation, type Observation, dockerSymptoms, evaluate } from '../../src/features/alerts/symptoms.ts';

const S: IncidentSettings = {
  errorThreshold: 5, errorWindow: '5m', resolveAfterChecks: 3, groupWaitMs: 0, repeatIntervalMs: 3_600_000,
  flapWindowMs: 3_600_000, flapMaxIncidents: 3, rootRefreshMs: 10_000,
};
const T0 = 1_800_000_000_000;

function running(over: Partial<DockerObservation> = {}): DockerObservation {
  return { id: 'c1', name: 'cdb_core', service: 'core', state: 'running', restartCount: 0, ...over };
}

/** Feeds observations in order; returns every transition. */
function run(observations: Observation[], settings: IncidentSettings = S, start?: ContainerState): Transition[] {
  let state = start ?? emptyState('cdb_core', 'core', T0);
  return observations.map((o) => {
    const t = transition(state, o, settings);
    state = t.next;
    return t;
  });
}
const tick = (at: number, docker: DockerObservation | null | undefined, errors?: number): Observation => ({ at, trigger: 'tick', docker, errors });
const event = (at: number, docker: DockerObservation): Observation => ({ at, trigger: 'event', docker });
const types = (t: Transition) => t.events.map((e) => e.type);

describe('symptoms', () => {
  it('reads Docker state: restarting, exited non-zero, unhealthy, restart count rising', () => {
    const base = { containerId: 'c1', restartCount: 2, dockerSymptoms: [] };
    expect(dockerSymptoms(running({ state: 'restarting', exitCode: 1, restartCount: 3 }), base)).toEqual([{ kind: 'restarting', detail: 'exit 1, 3 restarts' }]);
    expect(dockerSymptoms(running({ state: 'exited', exitCode: 137, oomKilled: true }), base)).toEqual([{ kind: 'exited', detail: 'exited, exit 137, OOM killed' }]);
    expect(dockerSymptoms(running({ state: 'exited', exitCode: 0 }), base)).toEqual([]);
    expect(dockerSymptoms(running({ health: 'unhealthy', restartCount: 2 }), base)).toEqual([{ kind: 'unhealthy', detail: 'health check failing' }]);
    // Up again already, but the count rose since the last look: it crashed in between.
    expect(dockerSymptoms(running({ restartCount: 4 }), base).map((s) => s.kind)).toEqual(['restarting']);
    // A recreated container (new id) starts a new count: no false alarm.
    expect(dockerSymptoms(running({ id: 'c2', restartCount: 9 }), base)).toEqual([]);
  });

  it('keeps what a source said last when it was not asked (unknown is not healthy)', () => {
    const prev = { containerId: 'c1', restartCount: 0, dockerSymptoms: [{ kind: 'unhealthy' as const, detail: 'x' }], errors: 9 };
    const { symptoms } = evaluate({ at: T0, trigger: 'event' }, prev, S);
    expect(symptoms.map((s) => s.kind)).toEqual(['unhealthy', 'errors']);
    const gone = evaluate({ at: T0, trigger: 'tick', docker: null, errors: 0 }, prev, S);
    expect(gone.symptoms).toEqual([]);
  });
});

describe('incident state machine', () => {
  it('opens one incident, updates it, and resolves after K healthy scheduled checks', () => {
    const ts = run([
      tick(T0, running({ state: 'restarting', exitCode: 1, restartCount: 1 })),
      tick(T0 + 30_000, running({ state: 'restarting', exitCode: 1, restartCount: 5 })),
      tick(T0 + 60_000, running({ state: 'restarting', exitCode: 1, restartCount: 6, health: 'unhealthy' })),
      tick(T0 + 90_000, running({ restartCount: 6 })),
      tick(T0 + 120_000, running({ restartCount: 6 })),
      tick(T0 + 150_000, running({ restartCount: 6 })),
    ]);
    expect(ts.map(types)).toEqual([['opened'], ['refreshed'], ['escalated'], ['refreshed'], [], ['resolved']]);
    const id = ts[0]!.next.incident!.id;
    expect(ts.slice(1, 5).every((t) => t.next.incident?.id === id)).toBe(true);
    const last = ts[5]!.next;
    expect(last.phase).toBe('ok');
    expect(last.lastIncident).toMatchObject({ id, resolvedAt: T0 + 150_000, kinds: ['restarting', 'unhealthy'] });
    expect(last.lastIncident!.history.map((h) => h.text)).toEqual([
      'firing: restarting (exit 1, 1 restart)', 'also unhealthy (health check failing)', 'recovering: no symptoms', 'resolved after 3 healthy checks',
    ]);
  });

  it('does not count event checks towards recovery, and any symptom resets the count', () => {
    const ts = run([
      tick(T0, running({ health: 'unhealthy' })),
      event(T0 + 1000, running({ health: 'healthy' })),
      event(T0 + 2000, running({ health: 'healthy' })),
      tick(T0 + 30_000, running({ health: 'healthy' })),
      tick(T0 + 60_000, running({ health: 'unhealthy' })),
      tick(T0 + 90_000, running({ health: 'healthy' })),
      tick(T0 + 120_000, running({ health: 'healthy' })),
    ]);
    expect(ts.map((t) => t.next.incident?.healthyChecks)).toEqual([0, 0, 0, 1, 0, 1, 2]);
    expect(ts.every((t) => t.next.phase === 'firing')).toBe(true);
  });

  it('waits for the group wait, batching what shows up meanwhile, even if it went quiet', () => {
    const ts = run(
      [
        event(T0, running({ restartCount: 1 })), // baseline
        event(T0 + 100, running({ restartCount: 2 })),
        event(T0 + 400, running({ restartCount: 2, health: 'unhealthy' })),
        { at: T0 + 1200, trigger: 'followup', docker: running({ restartCount: 2 }) },
      ],
      { ...S, groupWaitMs: 1000 },
      { ...emptyState('cdb_core', 'core', T0), baseline: { containerId: 'c1', restartCount: 1, dockerSymptoms: [] } },
    );
    expect(ts.map((t) => t.next.phase)).toEqual(['ok', 'pending', 'pending', 'firing']);
    expect(ts[1]!.followupAt).toBe(T0 + 1100);
    expect(ts[3]!.events).toEqual([{ type: 'opened' }]);
    expect(ts[3]!.next.incident!.kinds).toEqual(['restarting', 'unhealthy']);
    expect(ts[3]!.next.incident!.active.length).toBeGreaterThan(0);
  });

  it('opens a new incident when trouble returns after resolution', () => {
    const bad = running({ health: 'unhealthy' });
    const good = running({ health: 'healthy' });
    const ts = run([tick(T0, bad), tick(T0 + 1, good), tick(T0 + 2, good), tick(T0 + 3, good), tick(T0 + 60_000, bad)]);
    expect(types(ts[4]!)).toEqual(['opened']);
    expect(ts[4]!.next.incident!.id).not.toBe(ts[0]!.next.incident!.id);
  });

  it('suppresses flapping: the third incident within the window reopens the last thread', () => {
    const bad = running({ health: 'unhealthy' });
    const good = running({ health: 'healthy' });
    const cycle = (t: number) => [tick(t, bad), tick(t + 1, good), tick(t + 2, good), tick(t + 3, good)];
    const ts = run([...cycle(T0), ...cycle(T0 + 60_000), ...cycle(T0 + 120_000), tick(T0 + 7_200_000, bad)]);
    const opened = ts.filter((t) => t.events.some((e) => e.type === 'opened' || e.type === 'reopened'));
    expect(opened.map(types)).toEqual([['opened'], ['opened'], ['reopened'], ['opened']]);
    expect(opened[2]!.next.incident!.id).toBe(opened[1]!.next.incident!.id);
    expect(opened[2]!.next.incident!.flapping).toBe(true);
    // Outside the window the next failure is a fresh incident again.
    expect(opened[3]!.next.incident!.flapping).toBe(false);
  });

  it('reminds in the thread after the repeat interval, and throttles detail-only root edits', () => {
    const loop = (at: number, n: number) => tick(at, running({ state: 'restarting', exitCode: 1, restartCount: n }));
    const ts = run([loop(T0, 1), loop(T0 + 2000, 2), loop(T0 + 11_000, 3), loop(T0 + 3_700_000, 4)]);
    expect(ts.map(types)).toEqual([['opened'], [], ['refreshed'], ['repeated']]);
  });

  it('treats Loki errors above the threshold as a symptom, and a removed container as recovered', () => {
    const ts = run([tick(T0, null, 12), tick(T0 + 20_000, null, 3), tick(T0 + 40_000, null, 0), tick(T0 + 60_000, null, 0)]);
    expect(ts.map(types)).toEqual([['opened'], ['refreshed'], [], ['resolved']]);
    expect(ts[3]!.next.lastIncident!.peakErrors).toBe(12);
  });

  it('skips writes when nothing changed', () => {
    const s0 = emptyState('cdb_core', 'core', T0);
    const t = transition(s0, tick(T0 + 5000, running()), S);
    const again = transition(t.next, tick(T0 + 10_000, running()), S);
    expect(sameState(t.next, again.next)).toBe(true);
  });
});

describe('Loki health', () => {
  it('says degraded once after N failures and recovered once', () => {
    let h = LOKI_OK;
    const said: string[] = [];
    const feed = (ok: boolean, at: number) => {
      const r = lokiTransition(h, ok ? { ok: true } : { ok: false, error: 'ECONNREFUSED' }, at, 2);
      h = r.next;
      said.push(...r.events.map((e) => e.type));
    };
    feed(false, 1);
    feed(true, 2); // a single blip says nothing
    for (let i = 0; i < 10; i++) feed(false, 10 + i);
    feed(true, 100);
    feed(true, 101);
    expect(said).toEqual(['degraded', 'recovered']);
  });
});
