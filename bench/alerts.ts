// bench/alerts: how fast trouble reaches Slack, and what a tick costs Loki.
//
//   npm run bench:alerts                 (needs Docker and Redis, like the integration tests)
//   BENCH_RUNS=3 BENCH_SIZES=10,200 npm run bench:alerts
//
// 1. crash → alert: a container is killed (Engine API); time until the incident root message
//    reaches the Slack stand-in. Interval 30 s (the default): only the Docker event path can be fast.
// 2. Loki burst → alert: error lines appear in Loki at a random moment of the tick; time until the
//    root message. Interval 5 s; the goal is one interval + 2 s.
// 3. Loki queries per tick for 10 and 200 real containers (compose --scale), and what a tick costs.
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { runAlertCheck } from '../src/features/alerts/check.ts';
import { LokiClient } from '../src/features/alerts/loki-client.ts';
import { loadRunbooks } from '../src/features/alerts/runbooks.ts';
import { buildConfig } from '../src/shared/config/load.ts';
import { createLogger } from '../src/shared/log.ts';
import { loadRegistry } from '../src/shared/registry/registry.ts';
import { wireAlerts } from '../test/support/alerts-kit.ts';
import { randomSuffix, startComposeStack, waitFor, type ComposeStack } from '../test/support/compose-stack.ts';
import { REDIS_URL, startHarness, type Harness } from '../test/support/harness.ts';
import { startLokiStandin, type LokiStandin } from '../test/support/loki-standin.ts';

const ALERTS = 'C0ALERTS1';
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SIZES = (process.env.BENCH_SIZES ?? '10,200').split(',').map(Number);
const loop = ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'];
const docker = new Docker({ socketPath: '/var/run/docker.sock' });

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return `min ${s[0]} · median ${at(0.5)} · max ${s[s.length - 1]} ms (n=${s.length})`;
}

async function alertAt(h: Harness, needle: string, sinceIndex: number): Promise<number> {
  const call = await h.slack.waitForCall((c) => h.slack.calls.indexOf(c) >= sinceIndex && c.method === 'chat.postMessage' && c.args.channel === ALERTS && !c.args.thread_ts && String(c.args.text).includes(needle), 120_000);
  return call.at;
}

async function withSetup<T>(services: Record<string, object>, alerts: Record<string, unknown>, fn: (ctx: { stack: ComposeStack; loki: LokiStandin; h: Harness }) => Promise<T>): Promise<T> {
  const stack = await startComposeStack({ project: `cdbt${randomSuffix()}`, services });
  const loki = await startLokiStandin();
  const registry = await loadRegistry();
  const h = await startHarness({ registry, file: { stack: { project: stack.project }, loki: { url: loki.url }, channels: { alerts: ALERTS }, alerts } });
  const kit = await wireAlerts(h, registry);
  try {
    await new Promise((r) => setTimeout(r, 1500)); // event stream connected, first tick done
    return await fn({ stack, loki, h });
  } finally {
    await kit.close();
    await h.close();
    await loki.close();
    await stack.down();
  }
}

async function crashToAlert(): Promise<number[]> {
  const services = Object.fromEntries(Array.from({ length: RUNS }, (_, i) => [`victim${i}`, { command: loop }]));
  return withSetup(services, {}, async ({ stack, h }) => {
    const out: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const c = await stack.container(`victim${i}`);
      const mark = h.slack.calls.length;
      const t0 = Date.now();
      await docker.getContainer(c.id).kill();
      out.push((await alertAt(h, `Incident: victim${i} (`, mark)) - t0);
    }
    return out;
  });
}

async function burstToAlert(intervalSeconds: number): Promise<number[]> {
  return withSetup({ idle: { command: loop } }, { intervalSeconds }, async ({ stack, loki, h }) => {
    const out: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await new Promise((r) => setTimeout(r, Math.random() * intervalSeconds * 1000));
      const mark = h.slack.calls.length;
      const t0 = Date.now();
      for (let j = 0; j < 6; j++) loki.push(`${stack.project}_burst${i}_1`, `level=error msg="upstream refused" n=${j}`);
      out.push((await alertAt(h, `Incident: burst${i} (`, mark)) - t0);
    }
    return out;
  });
}

interface TickCost { containers: number; ticks: number; metricPerTick: number; evidenceQueries: number; msPerTick: string }

async function tickCost(n: number): Promise<TickCost> {
  const stack = await startComposeStack({ project: `cdbt${randomSuffix()}`, services: { app: { command: loop } } });
  const loki = await startLokiStandin();
  const redis = new Redis(REDIS_URL);
  const prefix = `cdbt-${randomSuffix()}`;
  try {
    if (n > 1) await stack.compose(['up', '-d', '--scale', `app=${n}`]);
    await waitFor(async () => (await stack.ps()).filter((c) => c.running).length >= n, { what: `${n} containers`, timeoutMs: 600_000, intervalMs: 2000 });
    const names = (await stack.ps()).map((c) => c.name);
    names.forEach((name, i) => {
      loki.push(name, 'level=info msg="ok"');
      loki.push(name, 'level=error msg="one error, below the threshold"');
      if (i < 3) for (let j = 0; j < 6; j++) loki.push(name, `level=error msg="burst ${j}"`);
    });
    const config = buildConfig({ stack: { project: stack.project }, redis: { prefix }, loki: { url: loki.url }, channels: { alerts: ALERTS }, alerts: { groupWaitSeconds: 0 } }, { REDIS_URL });
    const client = new LokiClient({ url: loki.url, timeoutMs: 5000 });
    const deps = { config, docker, redis, loki: client, log: createLogger({ level: 'silent' }), notify: async () => undefined, runbooks: () => loadRunbooks(), scheduleFollowup: async () => undefined };
    const ticks = 5;
    const times: number[] = [];
    loki.queries.length = 0;
    for (let t = 0; t < ticks; t++) {
      const t0 = Date.now();
      await runAlertCheck(deps, { trigger: 'tick' });
      times.push(Date.now() - t0);
    }
    return {
      containers: names.length,
      ticks,
      metricPerTick: loki.queries.filter((q) => q.endpoint === 'query').length / ticks,
      evidenceQueries: loki.queries.filter((q) => q.endpoint === 'query_range').length,
      msPerTick: stats(times),
    };
  } finally {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await loki.close();
    await stack.down();
  }
}

const crash = await crashToAlert();
console.log(`crash → alert (Docker events, interval 30 s): ${stats(crash)}`);
const interval = 5;
const burst = await burstToAlert(interval);
console.log(`Loki burst → alert (interval ${interval} s, goal ≤ ${interval * 1000 + 2000} ms): ${stats(burst)}`);
const costs: TickCost[] = [];
for (const n of SIZES) {
  costs.push(await tickCost(n));
  console.log(JSON.stringify(costs.at(-1)));
}

console.log('\n| measurement | result | goal |\n| --- | --- | --- |');
console.log(`| crash → alert at the Slack stand-in (kill via Engine API, interval 30 s) | ${stats(crash)} | < 5000 ms |`);
console.log(`| Loki error burst → alert (interval ${interval} s, burst at a random point of the tick) | ${stats(burst)} | ≤ ${interval * 1000 + 2000} ms |`);
for (const c of costs) console.log(`| Loki queries per tick, ${c.containers} containers (${c.ticks} ticks) | ${c.metricPerTick} metric query per tick; ${c.evidenceQueries} evidence query in all (3 new incidents) · tick ${c.msPerTick} | 1 |`);
process.exit(0);
