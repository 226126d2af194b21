import { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import { startHealthServer, type HealthServer } from '../shared/health-server.ts';
import { redisCheck, registerQueueGauges } from '../shared/process-health.ts';
import type { RunningBot } from './start-bot.ts';

/** The bot's /healthz (Redis) and /metrics on health.botPort (HEALTH_PORT). */
export async function startBotHealth(config: Config, bot: Pick<RunningBot, 'core'>, log: Logger): Promise<HealthServer | undefined> {
  if (!config.health.enabled) return undefined;
  const registry = new Registry();
  registerQueueGauges(registry, bot.core.redis, bot.core.jobs.all());
  return startHealthServer({ host: config.health.host, port: config.health.botPort, checks: { redis: redisCheck(bot.core.redis) }, registry, log });
}
