import { Queue } from 'bullmq';
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

const CONNECTION_ERRORS = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|Connection is closed|Stream isn't writeable|connect ETIMEDOUT|LOADING/;

const reporters = new WeakMap<Redis, (err: Error) => void>();

/**
 * ioredis reconnects by itself; without an error listener it would also print every failed attempt
 * as an "Unhandled error event". One warning per outage is enough, with the message only: a stack
 * trace says nothing about a Redis that is down. BullMQ queues and workers built on the connection
 * report through `redisErrorReporter` into the same once-per-outage warning.
 */
export function connectRedis(config: Pick<Config, 'redis' | 'secrets'>, log?: Pick<Logger, 'warn' | 'info' | 'debug'>): Redis {
  const { url, options } = redisOptions(config);
  const redis = new Redis(url, options);
  let down = false;
  const report = (err: Error): void => {
    const connection = CONNECTION_ERRORS.test(err.message) || CONNECTION_ERRORS.test(String((err as NodeJS.ErrnoException).code ?? ''));
    if (!connection) {
      log?.warn({ error: err.message }, 'Redis error');
      return;
    }
    // A BullMQ side connection catching up after this one is back is not a new outage.
    if (down || redis.status === 'ready') {
      log?.debug?.({ error: err.message }, 'Redis connection error (known outage)');
      return;
    }
    down = true;
    log?.warn({ error: err.message }, 'Redis connection lost; reconnecting');
  };
  redis.on('error', report);
  redis.on('ready', () => {
    if (down) log?.info('Redis connection restored');
    down = false;
  });
  reporters.set(redis, report);
  return redis;
}

/**
 * The error listener for a BullMQ Queue or Worker on `connection`: without one, BullMQ prints each
 * error with its stack to the console. Connections made elsewhere (tests) get a message-only warning.
 */
export function redisErrorReporter(connection: Redis, log?: Pick<Logger, 'warn'>): (err: Error) => void {
  return reporters.get(connection) ?? ((err: Error) => log?.warn({ error: err.message }, 'Redis error'));
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

/**
 * The `target` field of an envelope a worker makes itself (schedules, follow-ups): its worker runs
 * only jobs of its own target, so a scheduled job without it would be refused.
 */
export function envelopeTarget(config: { readonly target?: { readonly name: string } }): { target?: string } {
  return config.target ? { target: config.target.name } : {};
}

/** The jobs queue this config's jobs go to: `jobs`, or `jobs-<target>` in a per-target view. */
export function jobsQueue(config: { readonly target?: { readonly queue: string } }): string {
  return config.target?.queue ?? JOBS_QUEUE;
}

/**
 * The one way to open a BullMQ queue on a shared connection: `jobsQueue(config)` unless `name` says
 * otherwise (the root `jobs` queue, `replies`), with its errors going to the connection's
 * once-per-outage warning instead of a stack trace per failed reconnect.
 */
export function openJobsQueue(config: Pick<Config, 'redis'> & { readonly target?: { readonly queue: string } }, connection: Redis, log?: Pick<Logger, 'warn'>, name = jobsQueue(config)): Queue {
  const queue = new Queue(name, { connection, prefix: queuePrefix(config) });
  queue.on('error', redisErrorReporter(connection, log));
  return queue;
}
