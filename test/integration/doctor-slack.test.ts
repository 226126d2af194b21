import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomSuffix, startComposeStack, type ComposeStack } from '../support/compose-stack.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { requestIdOf, waitForFinalReply } from '../support/final-reply.ts';

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
    // The summary is posted, or (a run over 2 s) replaces the progress message.
    const summary = await waitForFinalReply(h.slack, requestIdOf(ack.text));
    expect(summary.text).toMatch(/^Doctor /);
    const summaryTs = summary.ts;
    expect(JSON.stringify(summary.blocks)).toContain('port-exposure');
    const detail = await h.slack.waitForCall((c) => c.method === 'chat.postMessage' && c.args.thread_ts === summaryTs, 120_000);
    expect(JSON.stringify(detail.args.blocks)).toMatch(/exposed|0\.0\.0\.0/);
    expect(JSON.stringify(detail.args.blocks)).toContain('ports');
  });
});
