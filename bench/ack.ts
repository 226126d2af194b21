// bench/ack: how long Slack waits for the ack of `/cdb status`, next to a bare Bolt app that only acks.
//
//   npm run bench:ack                       (needs Redis, like the integration tests)
//   BENCH_ROUNDS=9 BENCH_CONCURRENCY=100 npm run bench:ack -- --runs 5
//   npm run bench:ack -- --config '{"security":{...}}'  merged into the bot's config
//   npm run bench:ack -- --security-compare  also a third app: the bot with replay protection and rate
//                                            limits off (issue 15: "within 5%")
//   npm run bench:ack -- --stages           also time the Redis stages inside the bot's ack path
//   npm run bench:ack -- --profile          V8 CPU profiles of every app (same flags for all)
//
// Each app runs in its own process (bench/ack-server.ts) started with the same Node flags; this process
// only signs and sends, with one load generator for all. A round is CONCURRENCY signed slash commands
// sent at once to one app; rounds rotate between the apps (the order shifts every round) so all see the
// same machine load. A run is fresh processes, a warm-up round each, then ROUNDS rounds; reported per
// run: the median over its rounds of each app's p99 (and p50) and the ratios; at the end, the median of
// those over the runs. Rate limits are on (the default) with a per-user limit the bench never reaches:
// the bot pays for counting, and every request is answered like a real one.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { slashCommandBody, signSlackRequest } from '../test/support/slack-sign.ts';
import { startSlackStandin } from '../test/support/slack-standin.ts';
import { REDIS_URL } from '../test/support/harness.ts';
import { randomSuffix } from '../test/support/compose-stack.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
// Between rounds: what an app does after its acks (the bot's enqueue and audit, post-ack.ts) must not
// land in the next app's round. Without a pause the rotation order decided who paid for whose work
// (the app after the bot lost 10-20 %); BENCH_PAUSE_MS=0 measures bursts back to back.
const PAUSE_MS = Number(process.env.BENCH_PAUSE_MS ?? 250);
const SECRET = `bench-secret-${randomBytes(8).toString('hex')}`;
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const configJson = flag('--config') ?? '{}';
const RUNS = Number(flag('--runs') ?? 1);
const withStages = args.includes('--stages');
const compare = args.includes('--security-compare');
/** Counted, never reached: 100 requests a round from one user. */
const BENCH_DEFAULTS = { security: { rateLimits: { perUser: 10000 } } };
const SECURITY_OFF = { security: { replayProtection: false, rateLimits: { enabled: false } } };

type AppName = 'cdb' | 'bare' | 'cdb-off';
interface Server {
  readonly name: AppName;
  readonly port: number;
  readonly child: ChildProcess;
  readonly lines: string[];
}

async function startServer(name: AppName, env: Record<string, string>): Promise<Server> {
  // --profile: a V8 CPU profile of every app (bench/profiles/*.cpuprofile; open in Chrome DevTools):
  // every app gets the same Node flags, so the profiler's cost is the same on both sides.
  const prof = args.includes('--profile') ? ['--cpu-prof', '--cpu-prof-dir', `bench/profiles/${name}`] : [];
  const mode = name === 'bare' ? 'bare' : 'cdb';
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', 'bench/ack-server.ts', mode], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const rl = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${name} server exited with ${code}`)));
    rl.on('line', (line) => {
      lines.push(line);
      const parsed = JSON.parse(line) as { port?: number };
      if (parsed.port) resolve(parsed.port);
    });
  });
  return { name, port, child, lines };
}

async function stop(s: Server): Promise<void> {
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await exited;
}

/** One signed `/cdb status`; resolves with ms until the whole ack response was read. */
async function send(port: number, responseUrl: string): Promise<{ ms: number; status: number; body: string }> {
  const body = slashCommandBody({ text: 'status', response_url: responseUrl, trigger_id: `${Date.now()}.${randomBytes(6).toString('hex')}` });
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/slack/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...signSlackRequest(body, SECRET) },
    body,
  });
  const text = await res.text();
  return { ms: performance.now() - t0, status: res.status, body: text };
}

const pct = (sorted: number[], q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const f = (n: number) => n.toFixed(1);

// The ack must keep its content: the request id and the "on its way" text.
const cdbCheck = (body: string) => {
  if (!/request `[A-Za-z0-9_-]{8,}`/.test(body)) throw new Error(`cdb ack lost its content: ${body.slice(0, 300)}`);
};

async function round(s: Server, responseUrl: string): Promise<{ p50: number; p99: number }> {
  const results = await Promise.all(Array.from({ length: CONCURRENCY }, () => send(s.port, responseUrl)));
  for (const r of results) {
    if (r.status !== 200) throw new Error(`${s.name} answered HTTP ${r.status}: ${r.body.slice(0, 200)}`);
    if (s.name !== 'bare') cdbCheck(r.body);
  }
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  return { p50: pct(ms, 0.5), p99: pct(ms, 0.99) };
}

const slack = await startSlackStandin();
const prefix = `cdbt-bench-${randomSuffix()}`;
const names: AppName[] = compare ? ['cdb', 'bare', 'cdb-off'] : ['cdb', 'bare'];
const merged = (extra: object) => JSON.stringify(deepMerge(deepMerge(BENCH_DEFAULTS, JSON.parse(configJson) as object), extra));
const baseEnv = { SLACK_API_URL: slack.apiUrl, BENCH_BOT_TOKEN: slack.botToken, SIGNING_SECRET: SECRET, REDIS_URL, BENCH_PREFIX: prefix, ...(withStages ? { BENCH_STAGES: '1' } : {}) };
const responseUrl = slack.responseUrl('bench');
const perRun: Record<AppName, { p50: number; p99: number }>[] = [];
console.log(`ack latency, ${CONCURRENCY} concurrent signed /cdb status per round, ${ROUNDS} rounds × ${RUNS} runs, ${PAUSE_MS} ms between rounds (node ${process.version}, ${new Date().toISOString()}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')})`);
console.log(`config override: ${merged({})}${compare ? ` · cdb-off adds ${JSON.stringify(SECURITY_OFF)}` : ''}`);
try {
  for (let run = 0; run < RUNS; run++) {
    const servers: Server[] = [];
    try {
      for (const name of names) {
        const config = merged(name === 'cdb-off' ? SECURITY_OFF : {});
        servers.push(await startServer(name, { ...baseEnv, BENCH_PROJECT: `cdbt${randomSuffix()}`, BENCH_CONFIG_JSON: config }));
      }
      // Warm-up: JIT, connection pools, Bolt's first auth.test.
      for (const s of servers) await round(s, responseUrl);
      const out = Object.fromEntries(names.map((n) => [n, [] as { p50: number; p99: number }[]])) as Record<AppName, { p50: number; p99: number }[]>;
      for (let i = 0; i < ROUNDS; i++) {
        const order = servers.map((_, k) => servers[(k + i) % servers.length]!);
        for (const s of order) {
          if (PAUSE_MS) await new Promise((r) => setTimeout(r, PAUSE_MS));
          out[s.name].push(await round(s, responseUrl));
        }
      }
      const summary = Object.fromEntries(names.map((n) => [n, { p50: median(out[n].map((r) => r.p50)), p99: median(out[n].map((r) => r.p99)) }])) as Record<AppName, { p50: number; p99: number }>;
      perRun.push(summary);
      console.log(`run ${run + 1} (load average ${loadavg()[0]!.toFixed(1)}):`);
      for (const n of names) console.log(`  ${n.padEnd(7)} p99 per round: ${out[n].map((r) => f(r.p99)).join(' ')} ms · median p99 ${f(summary[n].p99)} ms, p50 ${f(summary[n].p50)} ms`);
      console.log(`  ratio p99 cdb/bare ${(summary.cdb.p99 / summary.bare.p99).toFixed(2)}x${compare ? ` · security on/off ${(summary.cdb.p99 / summary['cdb-off'].p99).toFixed(3)}x` : ''}`);
    } finally {
      for (const s of servers) await stop(s);
      for (const s of servers) {
        for (const line of s.lines) {
          const parsed = JSON.parse(line) as { stages?: Record<string, number[]> };
          for (const [label, ms] of Object.entries(parsed.stages ?? {})) {
            const sorted = [...ms].sort((a, b) => a - b);
            console.log(`  stage ${s.name} ${label}: n=${sorted.length} p50 ${pct(sorted, 0.5).toFixed(1)} ms, p99 ${pct(sorted, 0.99).toFixed(1)} ms`);
          }
        }
      }
    }
  }
  const ratios = perRun.map((r) => r.cdb.p99 / r.bare.p99);
  console.log(`median over ${RUNS} runs of the per-run ratio p99 cdb/bare: ${median(ratios).toFixed(2)}x (runs: ${ratios.map((r) => r.toFixed(2)).join(' ')}; goal ≤ 1.10x)`);
  console.log(`median p99: cdb ${f(median(perRun.map((r) => r.cdb.p99)))} ms, bare ${f(median(perRun.map((r) => r.bare.p99)))} ms; median p50 ratio ${median(perRun.map((r) => r.cdb.p50 / r.bare.p50)).toFixed(2)}x`);
  if (compare) {
    const sec = perRun.map((r) => r.cdb.p99 / r['cdb-off'].p99);
    console.log(`median over ${RUNS} runs of p99 security on/off: ${median(sec).toFixed(3)}x (runs: ${sec.map((r) => r.toFixed(3)).join(' ')}; goal ≤ 1.05x) · cdb-off/bare ${median(perRun.map((r) => r['cdb-off'].p99 / r.bare.p99)).toFixed(2)}x`);
  }
  console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
} finally {
  await slack.close();
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
}

function deepMerge(a: object, b: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' ? deepMerge(prev, v as object) : v;
  }
  return out;
}
