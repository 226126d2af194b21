import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createLogger } from '../../src/shared/log.ts';
import { startBot, type RunningBot } from '../../src/main/start-bot.ts';
import { startSlackStandin, type SlackStandin } from '../support/slack-standin.ts';
import { APP_TOKEN, startSocketModeStandin, type SocketModeStandin } from '../support/socket-mode-standin.ts';
import { slashCommandDefaults } from '../support/slack-sign.ts';
import { randomSuffix } from '../support/compose-stack.ts';
import { REDIS_URL } from '../support/harness.ts';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { JOBS_QUEUE, queuePrefix } from '../../src/shared/queue/names.ts';
import type { Config } from '../../src/shared/config/schema.ts';

describe('Socket Mode (the default)', () => {
  let slack: SlackStandin;
  let socket: SocketModeStandin;
  let bot: RunningBot;
  let config: Config;

  beforeAll(async () => {
    slack = await startSlackStandin();
    socket = await startSocketModeStandin(slack);
    config = buildConfig(
      { stack: { project: `cdbt${randomSuffix()}` }, redis: { prefix: `cdbt-${randomSuffix()}` }, roles: { viewer: { users: ['U0VIEWER1'] } } },
      { SLACK_BOT_TOKEN: slack.botToken, SLACK_APP_TOKEN: APP_TOKEN, SLACK_API_URL: slack.apiUrl, REDIS_URL },
    );
    expect(config.slack.mode).toBe('socket');
    bot = await startBot(config, createLogger({ level: 'silent' }));
    await socket.connected();
  });

  afterAll(async () => {
    await bot?.close();
    await socket?.close();
    await slack?.close();
  });

  it('opens the connection with the app token and acks a slash command envelope with the ephemeral answer', async () => {
    expect(slack.calls.find((c) => c.method === 'apps.connections.open')?.token).toBe(APP_TOKEN);
    const ack = await socket.slashCommand({ ...slashCommandDefaults, text: 'help', user_id: 'U0VIEWER1' });
    expect(ack).toMatchObject({ response_type: 'ephemeral' });
    expect(String(ack.text)).toContain('/cdb status [service]');
  });

  it('enqueues status from Socket Mode just as from HTTP', async () => {
    const ack = await socket.slashCommand({ ...slashCommandDefaults, text: 'status', user_id: 'U0VIEWER1' });
    expect(String(ack.text)).toContain('is on its way');
  });

  it('a graceful stop right after the ack still enqueues the command it acked', async () => {
    const ack = await socket.slashCommand({ ...slashCommandDefaults, text: 'status', user_id: 'U0VIEWER1' });
    expect(String(ack.text)).toContain('is on its way');
    const requestId = /request `([A-Za-z0-9_-]+)`/.exec(String(ack.text))?.[1];
    // The enqueue follows the ack by a few milliseconds; close() must wait for it, not cut it off.
    await bot.close();
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const jobs = new Queue(JOBS_QUEUE, { connection: redis, prefix: queuePrefix(config) });
    try {
      const queued = await jobs.getJobs(['waiting', 'prioritized', 'active', 'delayed']);
      expect(queued.map((j) => (j.data as { requestId?: string }).requestId)).toContain(requestId);
    } finally {
      await jobs.close();
      await redis.quit();
    }
  });
});
