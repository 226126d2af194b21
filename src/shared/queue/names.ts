import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
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

/**
 * ioredis reconnects by itself; without an error listener it would also print every failed attempt
 * as an "Unhandled error event". One warning per outage is enough.
 */
export function connectRedis(config: Pick<Config, 'redis' | 'secrets'>, log?: Pick<Logger, 'warn' | 'info'>): Redis {
  const { url, options } = redisOptions(config);
  const redis = new Redis(url, options);
  let down = false;
  redis.on('error', (err: Error) => {
    if (down) return;
    down = true;
    log?.warn({ err: { message: err.message } }, 'Redis connection lost; reconnecting');
  });
  redis.on('ready', () => {
    if (down) log?.info('Redis connection restored');
    down = false;
  });
  return redis;
}

/** BullMQ key prefix: many stacks (and test runs) share one Redis without seeing each other. */
export function queuePrefix(config: Pick<Config, 'redis'>): string {
  return `${config.redis.prefix}:q`;
}

/**
 * Key prefix of state: a worker's per-target view (config.target set) keeps its alerts, doctor and
 * rollback state under `<prefix>:t:<target>`, so two targets never share an incident or a tag.
 * Approvals, audit and the group mirror use the root config, hence the root prefix.
 */
export function keyPrefix(config: Pick<Config, 'redis'> & { readonly target?: { readonly name: string } }): string {
  return config.target ? `${config.redis.prefix}:t:${config.target.name}` : config.redis.prefix;
}

/** The jobs queue this config's jobs go to: `jobs`, or `jobs-<target>` in a per-target view. */
export function jobsQueue(config: { readonly target?: { readonly queue: string } }): string {
  return config.target?.queue ?? JOBS_QUEUE;
}
