import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { ensureTestImages } from '../support/images.ts';
import { randomSuffix, startComposeStack, waitFor, type ComposeStack } from '../support/compose-stack.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { postSigned, slashCommandBody } from '../support/slack-sign.ts';
import { JOBS_QUEUE, queuePrefix } from '../../src/shared/queue/names.ts';
import { finalReplyTo, requestIdOf, waitForFinalReply } from '../support/final-reply.ts';

const VIEWER = 'U0VIEWER1';
const STRANGER = 'U0STRANGE';

describe('/cdb status end to end: signed request → bot → queue → worker → Docker → Slack', () => {
  let stack: ComposeStack;
  let h: Harness;
  let jobs: Queue;

  beforeAll(async () => {
    const images = await ensureTestImages();
    stack = await startComposeStack({ project: `cdbt${randomSuffix()}` });
    h = await startHarness({ file: { stack: { project: stack.project }, roles: { viewer: { users: [VIEWER] } } } });
    jobs = new Queue(JOBS_QUEUE, { connection: h.redis, prefix: queuePrefix(h.config) });
    expect(images.busybox).toBeTruthy();
    // A crash loop shows as "restarting" once Docker's restart back-off exceeds the container's short life.
    await waitFor(async () => (await stack.ps()).find((c) => c.service === 'crashloop' && c.restartCount >= 3), { what: 'crashloop to restart 3 times', timeoutMs: 120_000 });
    await waitFor(async () => (await stack.ps()).find((c) => c.service === 'web' && c.health === 'healthy'), { what: 'web to be healthy', timeoutMs: 120_000 });
  });

  afterAll(async () => {
    await jobs?.close();
    await h?.close();
    await stack?.down();
  });

  it('acks at once with an ephemeral line, then posts the stack as Block Kit in the channel', async () => {
    const res = await h.slash('status', { user_id: VIEWER });
    expect(res.status).toBe(200);
    const ack = (await res.json()) as { response_type: string; text: string };
    expect(ack.response_type).toBe('ephemeral');
    expect(ack.text).toContain('on its way');

    const final = await waitForFinalReply(h.slack, requestIdOf(ack.text), { channel: 'C2147483705' });
    const blocks = JSON.stringify(final.blocks);
    for (const service of ['web', 'crashloop', 'exposed']) expect(blocks).toContain(`*${service}*`);
    expect(blocks).toMatch(/crashloop\*[^}]*restarting/);
    expect(blocks).toMatch(/web\*[^}]*running, healthy/);
    expect(blocks).toMatch(/0\.0\.0\.0:\d+-&gt;9000\/tcp :warning: \*all interfaces\*/);
    expect(blocks).toMatch(/127\.0\.0\.1:\d+-&gt;8080\/tcp/);
    expect(blocks).not.toMatch(/127\.0\.0\.1:\d+-&gt;8080\/tcp :warning:/);
    expect(final.text).toContain('exposed on all interfaces');
  });

  it('narrows to one service and says so when a service has no container', async () => {
    h.slack.reset();
    const web = await finalReplyTo(h.slack, () => h.slash('status web', { user_id: VIEWER }));
    expect(JSON.stringify(web.blocks)).toContain('*web*');
    const none = await finalReplyTo(h.slack, () => h.slash('status nosuch', { user_id: VIEWER }));
    expect(JSON.stringify(none.blocks)).toContain('No container of service');
    expect(JSON.stringify(none.blocks)).toContain('nosuch');
  });

  it('refuses users without a role, unknown subcommands and bad arguments, enqueuing nothing', async () => {
    const before = await jobs.getJobCounts();
    const cases: [string, string, RegExp][] = [
      ['status', STRANGER, /needs the \*viewer\* role/],
      ['frobnicate', VIEWER, /don’t know `frobnicate`/],
      ['status "web; rm -rf /"', VIEWER, /service: a service name/],
      ['status web extra', VIEWER, /Too many arguments/],
      ['status --force', VIEWER, /unknown option --force/],
    ];
    for (const [text, user, expected] of cases) {
      const res = await h.slash(text, { user_id: user });
      const body = (await res.json()) as { response_type: string; text: string };
      expect(body.response_type).toBe('ephemeral');
      expect(body.text).toMatch(expected);
    }
    const after = await jobs.getJobCounts();
    expect(after).toEqual(before);
  });

  it('answers help to anyone in the workspace, generated from the registry', async () => {
    const res = await h.slash('help', { user_id: STRANGER });
    const body = (await res.json()) as { text: string };
    expect(body.text).toContain('/cdb status [service]');
    const detail = (await (await h.slash('help status', { user_id: STRANGER })).json()) as { text: string };
    expect(detail.text).toContain('Role: viewer');
  });

  it('rejects a bad signature and a timestamp older than five minutes', async () => {
    const before = await jobs.getJobCounts();
    const body = slashCommandBody({ text: 'status', user_id: VIEWER });
    const forged = await postSigned(h.eventsUrl, body, 'not-the-secret');
    expect(forged.status).toBe(401);
    const stale = await postSigned(h.eventsUrl, body, 'test-signing-secret-8f14e45fceea167a5a36dedd4bea2543', { timestampSec: Math.floor(Date.now() / 1000) - 6 * 60 });
    expect(stale.status).toBe(401);
    expect(await jobs.getJobCounts()).toEqual(before);
  });

  it('writes every command to the capped audit stream, with who, what, outcome and duration', async () => {
    const rows = await h.redis.xrevrange(`${h.config.redis.prefix}:audit`, '+', '-', 'COUNT', 100);
    const entries = rows.map(([, f]) => JSON.parse(f[1] ?? '{}') as Record<string, unknown>);
    const ok = entries.find((e) => e.command === 'status' && e.outcome === 'succeeded');
    expect(ok).toMatchObject({ actor: { userId: VIEWER, teamId: 'T0001' }, via: 'slack' });
    expect(typeof ok?.durationMs).toBe('number');
    expect(entries.find((e) => e.outcome === 'rejected' && e.code === 'FORBIDDEN')).toMatchObject({ actor: { userId: STRANGER } });
    expect(JSON.stringify(entries)).not.toContain(h.slack.botToken);
  });
});
