import { describe, expect, it } from 'vitest';
import { ALERT_ACTION, alertButtonValueSchema } from '../../src/shared/contracts/alerts.ts';
import { noticeSchema } from '../../src/shared/contracts/envelope.ts';
import { emptyState, transition, type ContainerState, type IncidentSettings } from '../../src/features/alerts/incident.ts';
import * as render from '../../src/features/alerts/render.ts';

const S: IncidentSettings & render.RenderSettings = {
  project: 'cdb', errorThreshold: 5, errorWindow: '5m', resolveAfterChecks: 3, groupWaitMs: 0, repeatIntervalMs: 3_600_000,
  flapWindowMs: 3_600_000, flapMaxIncidents: 3, rootRefreshMs: 10_000,
};
const T0 = 1_800_000_000_000;

function firing(): ContainerState {
  const t = transition(emptyState('cdb_core', 'cdb_core', T0), { at: T0, trigger: 'tick', docker: { id: 'c1', name: 'cdb_core', service: 'core', state: 'restarting', exitCode: 1, restartCount: 4, health: 'unhealthy' }, errors: 42 }, S);
  return t.next;
}

function valid(n: render.OutgoingNotice): void {
  expect(noticeSchema.safeParse({ type: 'notice', ...n }).success).toBe(true);
  for (const b of n.blocks ?? []) {
    const text = (b as { text?: { text?: string } }).text?.text ?? '';
    expect(text.length).toBeLessThanOrEqual(3000);
  }
}

describe('incident messages', () => {
  it('puts what, where, since when and how bad in the root, with the four buttons', () => {
    const state = firing();
    const root = render.rootNotice(state, state.incident!, false, S, T0, 'root');
    valid(root);
    expect(root.key).toBe(`incident:${state.incident!.id}`);
    expect(root.text).toContain(':red_circle: Incident: core (cdb_core)');
    const json = JSON.stringify(root.blocks);
    for (const s of ['restarting (exit 1, 4 restarts)', 'unhealthy', 'error burst (42 error lines in 5m)', '<!date^', '*Errors (5m)*']) expect(json).toContain(s);
    const actions = (root.blocks ?? []).find((b) => b.type === 'actions') as { elements: { action_id: string; value: string }[] };
    expect(actions.elements.map((e) => e.action_id)).toEqual([ALERT_ACTION.logs, ALERT_ACTION.restart, ALERT_ACTION.doctor, ALERT_ACTION.rollback]);
    for (const e of actions.elements) {
      expect(alertButtonValueSchema.parse(JSON.parse(e.value))).toEqual({ service: 'core', container: 'cdb_core', incident: state.incident!.id });
      expect(e.value.length).toBeLessThan(2000);
    }
  });

  it('shows the duration and only Show logs once resolved', () => {
    const state = firing();
    const resolved = { ...state.incident!, resolvedAt: T0 + 250_000, active: [] };
    const root = render.rootNotice(state, resolved, true, S, T0 + 250_000, 'update-root');
    valid(root);
    expect(root.text).toContain(':large_green_circle: Resolved: core');
    expect(JSON.stringify(root.blocks)).toContain('4m 10s');
    const actions = (root.blocks ?? []).find((b) => b.type === 'actions') as { elements: unknown[] };
    expect(actions.elements).toHaveLength(1);
    valid(render.resolvedThread(resolved));
  });

  it('keeps evidence bounded and escaped, and links the runbook', () => {
    const state = firing();
    const nasty = { line: '<!channel> ``` & ' + 'x'.repeat(400), count: 3, lastNs: '1' };
    const e: render.Evidence = { source: 'Loki', lines: Array.from({ length: 50 }, () => nasty), runbook: { id: 'secret-file', title: 'Secret file', file: 'secret-file.md', symptoms: [], matchedBy: '"is a directory" in the logs' } };
    const n = render.openedThread(state.incident!, e, S);
    valid(n);
    const json = JSON.stringify(n.blocks);
    expect(json).not.toContain('<!channel>');
    expect(json).toContain('`runbooks/secret-file.md`');
    expect(json).toContain('×3');
  });

  it('derives the service from compose container names when Docker does not know it', () => {
    expect(render.serviceOf({ name: 'cdb_core', service: 'cdb_core' }, 'cdb')).toBe('core');
    expect(render.serviceOf({ name: 'cdb-api-2', service: 'cdb-api-2' }, 'cdb')).toBe('api');
    expect(render.serviceOf({ name: 'x', service: 'web' }, 'cdb')).toBe('web');
  });

  it('announces Loki trouble once and recovery in the same thread', () => {
    const d = render.lokiDegradedNotice('loki.abc', 'Loki is unreachable (ECONNREFUSED)', T0);
    valid(d);
    expect(d).toMatchObject({ key: 'monitoring:loki.abc', action: 'root' });
    const r = render.lokiRecoveredNotices('loki.abc', 90_000);
    expect(r.map((n) => [n.key, n.action])).toEqual([['monitoring:loki.abc', 'thread'], ['monitoring:loki.abc', 'update-root']]);
    r.forEach(valid);
  });
});
