import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomSuffix, startComposeStack, type ComposeStack } from '../support/compose-stack.ts';
import { startHarness, type Harness } from '../support/harness.ts';

const VIEWER = 'U0VIEWER1';

describe('/cdb doctor in Slack', () => {
  let stack: ComposeStack;
  let h: Harness;

  beforeAll(async () => {
    stack = await startComposeStack({ project: `cdbt${randomSuffix()}` });
    h = await startHarness({ file: { stack: { project: stack.project }, roles: { viewer: { users: [VIEWER] } } } });
  });

  afterAll(async () => {
    await h?.close();
    await stack?.down();
  });

  it('posts a one-screen summary and each problem with its fix in the thread', async () => {
    const ack = (await (await h.slash('doctor ports', { user_id: VIEWER })).json()) as { text: string };
    expect(ack.text).toContain('on its way');
    const summary = await h.slack.waitForCall((c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('Doctor '), 120_000);
    const summaryTs = [...h.slack.messages.values()].find((m) => m.text === summary.args.text)?.ts;
    expect(summaryTs).toBeDefined();
    expect(JSON.stringify(summary.args.blocks)).toContain('port-exposure');
    const detail = await h.slack.waitForCall((c) => c.method === 'chat.postMessage' && c.args.thread_ts === summaryTs, 120_000);
    expect(JSON.stringify(detail.args.blocks)).toMatch(/exposed|0\.0\.0\.0/);
    expect(JSON.stringify(detail.args.blocks)).toContain('ports');
  });
});
