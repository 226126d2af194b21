// Replies reach Slack in order per thread, while a thread Slack cannot serve does not hold the others,
// and no delivery retries without bound (the Web API client's default is 10 retries in ~30 minutes).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { WebClient } from '@slack/web-api';
import type { Job } from 'bullmq';
import { startHarness, REDIS_URL, type Harness } from '../support/harness.ts';
import { randomSuffix, waitFor } from '../support/compose-stack.ts';
import { startSlackStandin, type SlackStandin } from '../support/slack-standin.ts';
import { ReplyQueue } from '../../src/worker/reply-queue.ts';
import { queuePrefix } from '../../src/shared/queue/names.ts';
import { SLACK_CLIENT_LIMITS } from '../../src/bot/create-app.ts';
import { startReplyConsumer } from '../../src/bot/reply-consumer.ts';
import { createLogger } from '../../src/shared/log.ts';

const BAD = 'C0BADCHAN';
const GOOD = 'C0GOODCHAN';

describe('reply delivery', () => {
  let h: Harness;
  let replies: ReplyQueue;

  beforeAll(async () => {
    h = await startHarness({ worker: false });
    replies = new ReplyQueue(h.redis, queuePrefix(h.config));
  });

  afterAll(async () => {
    await replies?.close();
    await h?.close();
  });

  const inChannel = (channel: string) => [...h.slack.messages.values()].filter((m) => m.channel === channel);

  it('keeps one thread in order while Slack fails it, and other threads keep moving', async () => {
    const release = h.slack.failWhile((_method, args) => args.channel === BAD);
    try {
      await replies.notify({ key: 'inc-a', action: 'root', channel: BAD, text: 'A0 root' });
      for (const n of [1, 2, 3]) await replies.notify({ key: 'inc-a', action: 'thread', channel: BAD, text: `A${n}` });
      await replies.notify({ key: 'inc-b', action: 'root', channel: GOOD, text: 'B0 root' });
      await replies.notify({ key: 'inc-b', action: 'thread', channel: GOOD, text: 'B1' });
      // B's thread is delivered in full while every call for A still fails.
      await waitFor(() => inChannel(GOOD).find((m) => m.text === 'B1'), { what: 'thread B to be delivered while A fails', timeoutMs: 60_000 });
      const b0 = inChannel(GOOD).find((m) => m.text === 'B0 root');
      expect(inChannel(GOOD).find((m) => m.text === 'B1')?.thread_ts).toBe(b0?.ts);
      // Long enough a failure that retries, not luck, decide the order.
      await waitFor(() => h.slack.calls.filter((c) => c.args.channel === BAD && !c.ok).length >= 6, { what: 'several failed calls for thread A', timeoutMs: 60_000 });
      expect(inChannel(BAD)).toEqual([]);
    } finally {
      release();
    }
    await waitFor(() => inChannel(BAD).find((m) => m.text === 'A3'), { what: 'thread A once Slack recovers', timeoutMs: 120_000 });
    const a = inChannel(BAD);
    const root = a.find((m) => m.text === 'A0 root');
    expect(root?.thread_ts).toBeUndefined();
    // A root first, then its replies in the order sent, each under the root (not as new roots).
    const posted = h.slack.calls.filter((c) => c.args.channel === BAD && c.ok).map((c) => String(c.args.text));
    expect(posted).toEqual(['A0 root', 'A1', 'A2', 'A3']);
    for (const n of [1, 2, 3]) expect(a.find((m) => m.text === `A${n}`)?.thread_ts).toBe(root?.ts);
  });

  it('bounds the Slack client retries of one call', async () => {
    const slack: SlackStandin = await startSlackStandin();
    try {
      slack.failWhile((method) => method === 'chat.postMessage');
      const client = new WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, ...SLACK_CLIENT_LIMITS, retryConfig: { ...SLACK_CLIENT_LIMITS.retryConfig, minTimeout: 10, maxTimeout: 20 } });
      await expect(client.chat.postMessage({ channel: GOOD, text: 'x' })).rejects.toThrow();
      expect(slack.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(SLACK_CLIENT_LIMITS.retryConfig.retries + 1);
    } finally {
      await slack.close();
    }
  });

  it('gives up on a reply after a bounded number of attempts, and at once when Slack refuses it', async () => {
    const prefix = `cdbt-${randomSuffix()}`;
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new ReplyQueue(connection, `${prefix}:q`);
    const attempts = new Map<string, number>();
    const consumer = startReplyConsumer({
      connection, prefix: `${prefix}:q`, log: createLogger({ level: 'silent' }), backoffMs: [10, 10, 10],
      sink: {
        async deliver(reply) {
          const key = reply.type === 'notice' ? reply.key : reply.requestId;
          attempts.set(key, (attempts.get(key) ?? 0) + 1);
          const err = Object.assign(new Error(key === 'refused' ? 'invalid_blocks' : 'socket hang up'), { code: key === 'refused' ? 'slack_webapi_platform_error' : 'slack_webapi_request_error' });
          throw err;
        },
      },
    });
    const failed: Job[] = [];
    consumer.on('failed', (job) => { if (job) failed.push(job); });
    try {
      await queue.notify({ key: 'flaky', action: 'root', channel: GOOD, text: 'x' });
      await queue.notify({ key: 'refused', action: 'root', channel: GOOD, text: 'y' });
      await waitFor(() => failed.length >= 2, { what: 'both replies to be given up', timeoutMs: 60_000 });
      expect(attempts.get('flaky')).toBe(4);
      expect(attempts.get('refused')).toBe(1);
      // Given up for good: BullMQ does not start the whole sequence again behind the thread's back.
      expect(failed.every((j) => j.attemptsMade <= 1)).toBe(true);
    } finally {
      await consumer.close();
      await queue.close();
      const keys = await connection.keys(`${prefix}:*`);
      if (keys.length) await connection.del(...keys);
      await connection.quit();
    }
  });
});
