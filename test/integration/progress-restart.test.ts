import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Redis } from 'ioredis';
import { defineCommand, type AnyCommand } from '../../src/shared/registry/define-command.ts';
import { defineJob, type AnyJob } from '../../src/worker/define-job.ts';
import { buildRegistry, loadRegistry } from '../../src/shared/registry/registry.ts';
import { startBot } from '../../src/main/start-bot.ts';
import { waitFor } from '../support/compose-stack.ts';
import { REDIS_URL, startHarness, type Harness } from '../support/harness.ts';

const OPERATOR = 'U0OPERATOR';
const gate = (prefix: string) => `${prefix}:test:gate`;

/** A job that waits until the test opens a gate in Redis: long enough to need progress, with no sleeps. */
const slowJob = defineJob({
  name: 'slow',
  args: z.object({}).strict(),
  async run(ctx) {
    const redis = new Redis(REDIS_URL);
    try {
      for (;;) {
        if (await redis.get(gate(ctx.config.redis.prefix))) return { done: true };
        ctx.progress('Still waiting for the gate…');
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      redis.disconnect();
    }
  },
});

const slowCommand = defineCommand({
  kind: 'job',
  name: 'slow',
  summary: 'test only',
  usage: 'slow',
  role: 'operator',
  args: z.object({}).strict(),
  job: 'slow',
  slack: () => ({ text: 'slow job finished' }),
  text: () => 'slow job finished',
});

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function harness(): Promise<Harness> {
  const registry = buildRegistry([...(await loadRegistry()).values(), slowCommand as AnyCommand]);
  return startHarness({ registry, jobs: new Map([['slow', slowJob as AnyJob]]), file: { roles: { operator: { users: [OPERATOR] } } } });
}

describe('progress and restarts', () => {
  it('shows progress for a slow job and then replaces it with the result in the same message', async () => {
    h = await harness();
    await h.slash('slow', { user_id: OPERATOR });
    const progress = await h.slack.waitForCall((c) => c.method === 'chat.postMessage' && String(c.args.text).includes('Still waiting'), 60_000);
    await h.redis.set(gate(h.config.redis.prefix), '1');
    const update = await h.slack.waitForCall((c) => c.method === 'chat.update' && c.args.text === 'slow job finished', 60_000);
    expect(h.slack.messages.get(`${progress.args.channel}:${update.args.ts}`)?.text).toBe('slow job finished');
    expect(h.slack.calls.filter((c) => c.method === 'chat.postMessage')).toHaveLength(1);
  });

  it('loses no reply while the bot is down: a new bot delivers what the worker said meanwhile', async () => {
    h = await harness();
    await h.slash('slow', { user_id: OPERATOR });
    await h.slack.waitForCall((c) => c.method === 'chat.postMessage' && String(c.args.text).includes('Still waiting'), 60_000);
    await h.bot.close();
    await h.redis.set(gate(h.config.redis.prefix), '1');
    // The worker finishes while no bot is running; its reply waits in Redis.
    await waitFor(async () => (await h!.redis.xrevrange(`${h!.config.redis.prefix}:audit`, '+', '-', 'COUNT', 5)).some(([, f]) => (f[1] ?? '').includes('"succeeded"')), { what: 'the job to finish' });
    const registry = buildRegistry([...(await loadRegistry()).values(), slowCommand as AnyCommand]);
    const second = await startBot(h.config, h.log, registry);
    try {
      const update = await h.slack.waitForCall((c) => c.method === 'chat.update' && c.args.text === 'slow job finished', 60_000);
      const first = h.slack.calls.find((c) => c.method === 'chat.postMessage');
      expect(update.args.ts).toBeDefined();
      expect(h.slack.messages.get(`${first?.args.channel}:${update.args.ts}`)?.text).toBe('slow job finished');
    } finally {
      await second.close();
    }
  });
});
