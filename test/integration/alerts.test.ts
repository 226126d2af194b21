import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ALERT_ACTION } from '../../src/shared/contracts/alerts.ts';
import { defineCommand, type AnyCommand } from '../../src/shared/registry/define-command.ts';
import { buildRegistry, loadRegistry, type Registry } from '../../src/shared/registry/registry.ts';
import { loadJobs } from '../../src/worker/job-registry.ts';
import { runCommand } from '../support/images.ts';
import { randomSuffix, startComposeStack, waitFor, type ComposeStack } from '../support/compose-stack.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { startLokiStandin, type LokiStandin } from '../support/loki-standin.ts';
import { click, replies, roots, textOf, wireAlerts, type AlertKit } from '../support/alerts-kit.ts';

const ALERTS = 'C0ALERTS1';
const VIEWER = 'U0VIEWER1';
const OPERATOR = 'U0OPERAT1';
const LONG = 120_000;

/** Stands in for the stack doctor (another engineer's command): the button only has to enqueue it. */
const doctorStub = defineCommand({
  kind: 'job', name: 'doctor', summary: 'test stand-in', usage: 'doctor', role: 'viewer', args: z.object({}).strict(), job: 'alerts-test-doctor',
  needsApproval: () => false, slack: () => ({ text: 'doctor ran' }), text: () => 'doctor ran',
});

const loop = ['sh', '-c', 'trap "exit 0" TERM; echo "core starting"; while :; do sleep 1; done'];

describe('health alerts end to end: Docker + Loki → incidents → one Slack thread each', () => {
  let stack: ComposeStack;
  let loki: LokiStandin;
  let h: Harness;
  let kit: AlertKit;
  let registry: Registry;
  const name = (service: string) => `${stack.project}_${service}_1`;
  const incidentRoots = (service: string) => roots(h, ALERTS).filter((m) => m.text.includes(`: ${service} (`) && m.text.includes(name(service)));
  const push = (service: string, lines: string[]) => lines.forEach((l) => loki.push(name(service), l));

  beforeAll(async () => {
    stack = await startComposeStack({
      project: `cdbt${randomSuffix()}`,
      services: {
        crashloop: { command: ['sh', '-c', 'echo "level=error msg=\\"open /run/secrets/db_password: is a directory\\""; exit 1'], restart: 'always' },
        sick: { command: loop, healthcheck: { test: ['CMD-SHELL', 'echo "wget: can\'t connect to remote host (127.0.0.1): Connection refused"; exit 1'], interval: '1s', timeout: '2s', retries: 1 } },
        core: { command: loop },
        victim: { command: loop },
      },
    });
    loki = await startLokiStandin();
    registry = buildRegistry([...[...(await loadRegistry()).values()].filter((c) => c.name !== 'doctor'), doctorStub as AnyCommand]);
    h = await startHarness({
      registry,
      jobs: await loadJobs(),
      file: {
        stack: { project: stack.project },
        loki: { url: loki.url },
        channels: { alerts: ALERTS },
        roles: { viewer: { users: [VIEWER] }, operator: { users: [OPERATOR] } },
        alerts: { intervalSeconds: 1, resolveAfterChecks: 2, groupWaitSeconds: 0.5, errorWindow: '6s', errorThreshold: 3, lokiDegradedAfterFailures: 2, lokiTimeoutSeconds: 2 },
      },
    });
    kit = await wireAlerts(h, registry);
  });

  afterAll(async () => {
    await kit?.close();
    await h?.close();
    await loki?.close();
    await stack?.down();
  });

  it('reports a crash loop once: one root in the alerts channel, evidence and runbook in its thread', async () => {
    const root = await waitFor(() => incidentRoots('crashloop')[0], { what: 'the crashloop incident', timeoutMs: LONG });
    expect(root.text).toContain('restarting');
    const evidence = await waitFor(() => replies(h, ALERTS, root.ts).find((m) => textOf(m).includes('Evidence')), { what: 'the evidence reply', timeoutMs: LONG });
    expect(textOf(evidence)).toContain('is a directory');
    expect(textOf(evidence)).toContain('runbooks/secret-file.md');
    // Many more restarts (each one a Docker event and a check) later: still one root.
    await waitFor(async () => (await stack.container('crashloop')).restartCount >= 5, { what: 'five restarts', timeoutMs: LONG });
    await waitFor(() => h.slack.calls.some((c) => c.method === 'chat.update' && c.args.ts === root.ts), { what: 'the root to be edited in place', timeoutMs: LONG });
    expect(incidentRoots('crashloop')).toHaveLength(1);
  });

  it('opens a separate incident for an unhealthy container, with the probe output', async () => {
    const root = await waitFor(() => incidentRoots('sick')[0], { what: 'the unhealthy incident', timeoutMs: LONG });
    expect(root.text).toContain('unhealthy');
    const evidence = await waitFor(() => replies(h, ALERTS, root.ts).find((m) => textOf(m).includes('Last health probe')), { what: 'probe evidence', timeoutMs: LONG });
    expect(textOf(evidence)).toContain('Connection refused');
    expect(textOf(evidence)).toContain('runbooks/health-check-failing.md');
  });

  it('turns a Loki error burst into an incident, threads its updates, resolves it, and opens a new one on re-fire', async () => {
    push('core', ['level=error msg="db timeout" password=hunter2', 'level=error msg="db timeout"', 'panic: nil map', 'Exception in thread main']);
    // Errors keep coming until the crash was seen: the incident must stay open however slow the
    // steps below are (the 6 s window would otherwise let it resolve under load).
    const stillFailing = setInterval(() => push('core', ['level=error msg="db timeout"']), 500);
    let root: Awaited<ReturnType<typeof incidentRoots>>[number];
    try {
      root = await waitFor(() => incidentRoots('core')[0], { what: 'the error-burst incident', timeoutMs: LONG });
      expect(textOf(root)).toContain('error burst');
      const evidence = await waitFor(() => replies(h, ALERTS, root.ts).find((m) => textOf(m).includes('Evidence')), { what: 'the evidence reply', timeoutMs: LONG });
      expect(textOf(evidence)).toContain('db timeout');
      expect(textOf(evidence)).toContain('[REDACTED]');
      expect(textOf(evidence)).toContain('runbooks/error-burst.md');

      // The container crashes while the incident is open (errors still coming): an update in the thread, the root edited.
      await runCommand('docker', ['kill', name('core')]);
      const update = await waitFor(() => replies(h, ALERTS, root.ts).find((m) => m.text.includes('Now also exited')), { what: 'the escalation reply', timeoutMs: LONG });
      expect(update.thread_ts).toBe(root.ts);
      await waitFor(() => h.slack.messages.get(`${ALERTS}:${root.ts}`)?.text.includes('exited'), { what: 'the root to show the crash', timeoutMs: LONG });
      expect(incidentRoots('core')).toHaveLength(1);
    } finally {
      clearInterval(stillFailing);
    }

    // Recovery: running again, and the errors age out of the window.
    await runCommand('docker', ['start', name('core')]);
    const resolved = await waitFor(() => replies(h, ALERTS, root.ts).find((m) => m.text.includes('Resolved after')), { what: 'the resolved reply', timeoutMs: LONG });
    expect(textOf(resolved)).toContain('History');
    // The root is edited by its own chat.update, which may land after the reply.
    const edited = await waitFor(() => {
      const m = h.slack.messages.get(`${ALERTS}:${root.ts}`);
      return m?.text.includes('Resolved: core') ? m : undefined;
    }, { what: 'the root to show the resolution', timeoutMs: LONG });
    expect(textOf(edited)).toMatch(/\*Duration\*\\n\d+s/);

    // A new burst after resolution is a new incident: a second root, not a reply in the old thread.
    push('core', ['level=error second wave', 'level=error second wave', 'level=error second wave']);
    const second = await waitFor(() => incidentRoots('core').find((m) => m.ts !== root.ts), { what: 'a second incident', timeoutMs: LONG });
    expect(second.text).toContain('Incident: core');
    expect(replies(h, ALERTS, root.ts).filter((m) => m.text.includes('second wave'))).toHaveLength(0);
    for (const c of h.slack.calls) expect(JSON.stringify(c.args)).not.toContain('hunter2');
  });

  it('says "monitoring degraded" once during a Loki outage, goes on with Docker checks, and says recovered once', async () => {
    const degraded = () => h.slack.calls.filter((c) => c.method === 'chat.postMessage' && String(c.args.text).includes('Monitoring degraded'));
    expect(degraded()).toHaveLength(0);
    await loki.setFailure('refuse');
    const notice = await waitFor(() => roots(h, ALERTS).find((m) => m.text.includes('Monitoring degraded')), { what: 'the degraded notice', timeoutMs: LONG });
    // Docker-based checks go on: a container dying during the outage is still reported.
    await runCommand('docker', ['kill', name('victim')]);
    await waitFor(() => incidentRoots('victim')[0], { what: 'an incident during the outage', timeoutMs: LONG });
    // Many failing ticks, in two failure modes: no storm.
    const ticksBefore = loki.requests.length;
    await loki.setFailure('503');
    await waitFor(() => loki.requests.length >= ticksBefore + 5, { what: 'five failing Loki ticks', timeoutMs: LONG });
    expect(degraded()).toHaveLength(1);
    await loki.setFailure(null);
    const recovered = await waitFor(() => replies(h, ALERTS, notice.ts).find((m) => m.text.includes('Monitoring recovered')), { what: 'the recovery reply', timeoutMs: LONG });
    expect(recovered.thread_ts).toBe(notice.ts);
    const queriesAfter = loki.queries.length;
    await waitFor(() => loki.queries.length >= queriesAfter + 3, { what: 'three good ticks', timeoutMs: LONG });
    expect(degraded()).toHaveLength(1);
    expect(replies(h, ALERTS, notice.ts).filter((m) => m.text.includes('Monitoring recovered'))).toHaveLength(1);
  });

  it('runs the root message buttons through roles: Roll back points to approval, doctor is enqueued, Show logs and Restart answer in the thread', async () => {
    // As the user saw it: the message may be edited (even resolved) while they click.
    const root = structuredClone(await waitFor(() => incidentRoots('sick')[0], { what: 'the unhealthy incident', timeoutMs: LONG }));
    push('sick', ['sick says hello from loki']);

    await click(h, root, ALERT_ACTION.rollback, OPERATOR);
    await h.slack.waitForCall((c) => c.method === 'chat.postEphemeral' && c.args.user === OPERATOR && String(c.args.text).includes('/cdb rollback &lt;tag|latest&gt; sick'), LONG);

    await click(h, root, ALERT_ACTION.doctor, VIEWER);
    const doctor = await waitFor(async () => (await kit.jobs.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed'])).find((j) => j?.name === 'alerts-test-doctor'), { what: 'the doctor job', timeoutMs: LONG });
    expect(doctor.data).toMatchObject({ command: 'doctor', actor: { userId: VIEWER }, origin: { kind: 'slack', channel: ALERTS, threadTs: root.ts } });

    expect((await click(h, root, ALERT_ACTION.logs, VIEWER)).status).toBe(200);
    const logs = await waitFor(() => replies(h, ALERTS, root.ts).find((m) => m.text.startsWith('Logs of sick')), { what: 'logs in the thread', timeoutMs: LONG });
    expect(textOf(logs)).toContain('sick says hello from loki');

    await click(h, root, ALERT_ACTION.restart, VIEWER);
    const refused = await h.slack.waitForCall((c) => c.method === 'chat.postEphemeral' && c.args.user === VIEWER && String(c.args.text).includes('operator'), LONG);
    expect(refused.args.thread_ts).toBe(root.ts);
    const before = (await stack.container('sick')).id;
    await click(h, root, ALERT_ACTION.restart, OPERATOR);
    const restarted = await waitFor(() => replies(h, ALERTS, root.ts).find((m) => m.text.startsWith('Restart sick')), { what: 'the restart result in the thread', timeoutMs: LONG });
    expect(textOf(restarted)).toContain('Restarted *sick*');
    expect((await stack.container('sick')).id).toBe(before);
  });
});
