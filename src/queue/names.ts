import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/schema.ts';

/** One queue for work (bot → worker), one for what to say (worker → bot). */
export const JOBS_QUEUE = 'jobs';
export const REPLIES_QUEUE = 'replies';

export function redisOptions(config: Pick<Config, 'redis' | 'secrets'>): { url: string; options: RedisOptions } {
  return {
    url: config.redis.url,
    options: {
      password: config.secrets.redisPassword,
      // BullMQ workers block on Redis; they must not give up on a slow command.
      maxRetriesPerRequest: null,
      enableReadyCheck: true,
      lazyConnect: false,
    },
  };
}

export function connectRedis(config: Pick<Config, 'redis' | 'secrets'>): Redis {
  const { url, options } = redisOptions(config);
  return new Redis(url, options);
}

/** BullMQ key prefix: many stacks (and test runs) share one Redis without seeing each other. */
export function queuePrefix(config: Pick<Config, 'redis'>): string {
  return `${config.redis.prefix}:q`;
}

export function keyPrefix(config: Pick<Config, 'redis'>): string {
  return config.redis.prefix;
}
