// What replay protection and rate limits cost the ack: the real bot (HTTP receiver, signed-request
// gate, Redis) answering 100 concurrent signed `/cdb status` from 100 users, with both checks on and
// with both off (security.replayProtection / security.rateLimits.enabled), rounds alternating so both
// see the same machine load. Prints the median over rounds of each round's p50 and p99 ack time.
//   npx tsx bench/guard-overhead.ts [rounds=9]
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { buildConfig } from '../src/shared/config/load.ts';
import { createLogger } from '../src/shared/log.ts';
import { startBot, type RunningBot } from '../src/main/start-bot.ts';
import { startSlackStandin } from '../test/support/slack-standin.ts';
import { postSigned, slashCommandBody } from '../test/support/slack-sign.ts';
import { randomSuffix } from '../test/support/compose-stack.ts';
import { RequestGuard } from '../src/bot/request-guard.ts';
import { configSchema } from '../src/shared/config/schema.ts';

const SECRET = 'bench-signing-secret-0123456789abcdef0123456789';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CONCURRENCY = 100;
const USERS = Array.from({ length: CONCURRENCY }, (_, i) => `U0BENCH${String(i).padStart(3, '0')}`);
const rounds = Number(process.argv[2] ?? 9);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] ?? NaN;

async function main(): Promise<void> {
  const slack = await startSlackStandin();
  const log = createLogger({ level: 'silent' });
  const env = { SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: slack.apiUrl, SLACK_MODE: 'http', PORT: '0', REDIS_URL };
  const prefixes: string[] = [];
  const boot = async (on: boolean): Promise<{ bot: RunningBot; url: string }> => {
    const prefix = `cdbt-bench-${randomSuffix()}`;
    prefixes.push(prefix);
    const config = buildConfig({
      stack: { project: `cdbt${randomSuffix()}` }, redis: { prefix }, roles: { viewer: { users: USERS } },
      security: { replayProtection: on, rateLimits: { enabled: on, perUser: 1000 } },
    }, env, '(bench)');
    const bot = await startBot(config, log);
    return { bot, url: `http://127.0.0.1:${(bot.server?.address() as AddressInfo).port}/slack/events` };
  };
  const variants = { on: await boot(true), off: await boot(false) };
  const round = async (url: string): Promise<number[]> => Promise.all(USERS.map(async (user) => {
    const body = slashCommandBody({ text: 'status', user_id: user, response_url: slack.responseUrl('bench') });
    const t0 = performance.now();
    const res = await postSigned(url, body, SECRET);
    await res.text();
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    return performance.now() - t0;
  }));
  const stats: Record<'on' | 'off', { p50: number[]; p99: number[] }> = { on: { p50: [], p99: [] }, off: { p50: [], p99: [] } };
  try {
    await round(variants.on.url); // warm-up: JIT, connections, Lua script cache
    await round(variants.off.url);
    for (let i = 0; i < rounds; i++) {
      for (const name of (i % 2 ? ['off', 'on'] : ['on', 'off']) as ('on' | 'off')[]) {
        const times = await round(variants[name].url);
        stats[name].p50.push(pct(times, 50));
        stats[name].p99.push(pct(times, 99));
      }
    }
  } finally {
    await variants.on.bot.close();
    await variants.off.bot.close();
    await slack.close();
    const redis = new Redis(REDIS_URL);
    for (const p of prefixes) {
      const keys = await redis.keys(`${p}:*`);
      if (keys.length) await redis.del(...keys);
    }
    await redis.quit();
  }
  const on = { p50: median(stats.on.p50), p99: median(stats.on.p99) };
  const off = { p50: median(stats.off.p50), p99: median(stats.off.p99) };
  // The check on its own: one EVAL (replay key + two rate counters), sequentially, 1000 times.
  const redis = new Redis(REDIS_URL);
  const prefix = `cdbt-bench-${randomSuffix()}`;
  const security = configSchema.shape.security.parse({ rateLimits: { perUser: 10_000, commands: { status: 10_000 } } });
  const guard = new RequestGuard(redis, prefix, security);
  const single: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const t0 = performance.now();
    await guard.check({ request: { kind: 'request', id: `r${i}` }, command: { userId: 'U0BENCH000', name: 'status' } });
    single.push(performance.now() - t0);
  }
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  console.log(`guard check alone (one EVAL round trip), 1000 sequential calls: p50 ${pct(single, 50).toFixed(3)} ms, p99 ${pct(single, 99).toFixed(3)} ms`);
  console.log(`ack of ${CONCURRENCY} concurrent signed /cdb status, median of ${rounds} rounds`);
  console.log(`  checks off: p50 ${off.p50.toFixed(1)} ms, p99 ${off.p99.toFixed(1)} ms`);
  console.log(`  checks on:  p50 ${on.p50.toFixed(1)} ms, p99 ${on.p99.toFixed(1)} ms`);
  console.log(`  p99 on/off: ${(on.p99 / off.p99).toFixed(3)}  (p50 ${(on.p50 / off.p50).toFixed(3)})`);
}

await main();
