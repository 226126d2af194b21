import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { buildConfig } from '../../src/shared/config/load.ts';
import type { Config } from '../../src/shared/config/schema.ts';
import { createLogger, type Logger } from '../../src/shared/log.ts';
import { startBot, type RunningBot } from '../../src/main/start-bot.ts';
import { startWorkerProcess, type RunningWorkerProcess } from '../../src/main/start-worker.ts';
import { startSlackStandin, type SlackStandin } from './slack-standin.ts';
import { postSigned, slashCommandBody, type SlashCommandFields } from './slack-sign.ts';
import { randomSuffix } from './compose-stack.ts';
import type { Registry } from '../../src/shared/registry/registry.ts';
import type { JobRegistry } from '../../src/worker/job-registry.ts';

export const SIGNING_SECRET = 'test-signing-secret-8f14e45fceea167a5a36dedd4bea2543';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A Redis client for job contexts built by hand in tests and benches: it connects only when a job
 * uses it. Close it with `quit()` when done.
 */
export function jobRedis(): Redis {
  return new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: null });
}

export interface Harness {
  readonly config: Config;
  readonly slack: SlackStandin;
  readonly bot: RunningBot;
  readonly worker?: RunningWorkerProcess;
  readonly eventsUrl: string;
  readonly redis: Redis;
  readonly log: Logger;
  /** POSTs a signed slash command to the bot's HTTP receiver, as Slack would. */
  slash(text: string, fields?: Partial<SlashCommandFields>): Promise<Response>;
  close(): Promise<void>;
}

/**
 * The real bot (HTTP receiver) and worker, in-process, against real Redis (a random key prefix per
 * harness) and real Docker, with Slack replaced by the local Web API stand-in.
 */
export interface HarnessOptions {
  file?: Record<string, unknown>;
  worker?: boolean;
  logLevel?: string;
  registry?: Registry;
  jobs?: JobRegistry;
  /** Another Redis (e.g. one the test starts and restarts); default REDIS_URL. */
  redisUrl?: string;
  /** A logger of the test's own (e.g. writing into an array to count lines). */
  log?: Logger;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const slack = await startSlackStandin();
  const env = {
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    SLACK_MODE: 'http',
    PORT: '0',
    REDIS_URL: opts.redisUrl ?? REDIS_URL,
  };
  // Rate limits are off unless a test asks (request-guard.test.ts does): other tests send bursts no person would.
  const file = { stack: { project: `cdbt${randomSuffix()}` }, redis: { prefix: `cdbt-${randomSuffix()}` }, security: { rateLimits: { enabled: false } }, ...opts.file };
  const config = buildConfig(file, env, '(test harness)');
  const log = opts.log ?? createLogger({ level: opts.logLevel ?? process.env.TEST_LOG_LEVEL ?? 'silent' });
  const bot = await startBot(config, log, opts.registry);
  const { port } = bot.server?.address() as AddressInfo;
  const workerConfig = buildConfig(file, { REDIS_URL: env.REDIS_URL }, '(test harness worker)');
  const worker = opts.worker === false ? undefined : await startWorkerProcess(workerConfig, log, opts.jobs);
  const eventsUrl = `http://127.0.0.1:${port}/slack/events`;
  const redis = new Redis(env.REDIS_URL);
  redis.on('error', () => undefined); // a test that restarts its Redis expects this client to reconnect quietly
  return {
    config, slack, bot, worker, eventsUrl, redis, log,
    slash: (text, fields = {}) => postSigned(eventsUrl, slashCommandBody({ text, response_url: slack.responseUrl('cmd'), ...fields }), SIGNING_SECRET),
    async close() {
      await worker?.close();
      await bot.close();
      const keys = await redis.keys(`${config.redis.prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
      await slack.close();
    },
  };
}
