// One app under test for bench/ack, in its own process so the load generator never shares its event loop.
//   tsx bench/ack-server.ts cdb|bare     prints {"port":N} on stdout, runs until SIGTERM
// Environment: SLACK_API_URL, SIGNING_SECRET, REDIS_URL, BENCH_PREFIX, BENCH_PROJECT, BENCH_CONFIG_JSON,
// BENCH_STAGES=1 (cdb: time the Redis stages of the ack path and print them on SIGTERM).
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { App, LogLevel } from '@slack/bolt';
import { Queue } from 'bullmq';
import { buildConfig } from '../src/shared/config/load.ts';
import { createLogger } from '../src/shared/log.ts';
import { startBot } from '../src/main/start-bot.ts';
import { AuditLog } from '../src/shared/audit/audit.ts';
import { RequestGuard } from '../src/bot/request-guard.ts';

const mode = process.argv[2];
const env = process.env;
const stages: Record<string, number[]> = {};

/** Wraps a prototype method to record how long each call takes (ms). */
function timed(proto: object, method: string, label: string): void {
  const target = proto as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const original = target[method]!;
  target[method] = async function (this: unknown, ...args: unknown[]) {
    const t0 = performance.now();
    try {
      return await original.apply(this, args);
    } finally {
      (stages[label] ??= []).push(performance.now() - t0);
    }
  };
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object' ? deepMerge(a[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

let close: () => Promise<void>;
let port: number;
if (mode === 'bare') {
  // What Bolt costs on its own: signature check, body parsing, routing, ack.
  const app = new App({ token: env.BENCH_BOT_TOKEN!, signingSecret: env.SIGNING_SECRET!, clientOptions: { slackApiUrl: env.SLACK_API_URL }, logLevel: LogLevel.ERROR });
  app.command('/cdb', async ({ ack }) => {
    await ack();
  });
  const server = (await app.start(0)) as Server;
  port = (server.address() as AddressInfo).port;
  close = async () => {
    await app.stop();
  };
} else if (mode === 'cdb') {
  if (env.BENCH_STAGES) {
    timed(Queue.prototype, 'add', 'enqueue (jobs.add)');
    timed(AuditLog.prototype, 'record', 'audit (XADD)');
    timed(RequestGuard.prototype, 'check', 'guard (replay + rate EVAL)');
  }
  const file = deepMerge(
    { stack: { project: env.BENCH_PROJECT }, redis: { prefix: env.BENCH_PREFIX }, roles: { viewer: { users: ['U2147483697'] } }, health: { enabled: false } },
    JSON.parse(env.BENCH_CONFIG_JSON || '{}') as Record<string, unknown>,
  );
  const config = buildConfig(file, { SLACK_BOT_TOKEN: env.BENCH_BOT_TOKEN, SLACK_SIGNING_SECRET: env.SIGNING_SECRET, SLACK_API_URL: env.SLACK_API_URL, SLACK_MODE: 'http', PORT: '0', REDIS_URL: env.REDIS_URL }, '(bench)');
  const bot = await startBot(config, createLogger({ level: 'silent' }));
  port = (bot.server!.address() as AddressInfo).port;
  close = () => bot.close();
} else {
  throw new Error('usage: ack-server.ts cdb|bare');
}
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.once('SIGTERM', () => {
  void close().finally(() => {
    if (Object.keys(stages).length) process.stdout.write(`${JSON.stringify({ stages })}\n`);
    process.exit(0);
  });
});
