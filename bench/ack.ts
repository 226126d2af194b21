// bench/ack: how long Slack waits for the ack of `/cdb status`, next to a bare Bolt app that only acks.
//
//   npm run bench:ack                       (needs Redis, like the integration tests)
//   BENCH_ROUNDS=9 BENCH_CONCURRENCY=100 npm run bench:ack
//   npm run bench:ack -- --config '{"slack":{...}}'   merge into the bot's config (e.g. replay
//                                                      protection / rate limits on or off)
//   npm run bench:ack -- --stages           also time the Redis stages inside the bot's ack path
//
// Each app runs in its own process (bench/ack-server.ts); this process only signs and sends. A round
// is CONCURRENCY signed slash commands sent at once to one app; rounds alternate between the apps
// (the order flips every round) so both see the same machine load. Reported: p50/p99 per round and
// the median p99 over the rounds, and the ratio cdb/bare.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { slashCommandBody, signSlackRequest } from '../test/support/slack-sign.ts';
import { startSlackStandin } from '../test/support/slack-standin.ts';
import { REDIS_URL } from '../test/support/harness.ts';
import { randomSuffix } from '../test/support/compose-stack.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const SECRET = `bench-secret-${randomBytes(8).toString('hex')}`;
const args = process.argv.slice(2);
const configJson = args.includes('--config') ? args[args.indexOf('--config') + 1] ?? '{}' : '{}';
const withStages = args.includes('--stages');

interface Server {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly lines: string[];
}

async function startServer(name: 'cdb' | 'bare', env: Record<string, string>): Promise<Server> {
  // --profile: a V8 CPU profile of the cdb server (bench/profiles/*.cpuprofile; open in Chrome DevTools).
  const prof = name === 'cdb' && args.includes('--profile') ? ['--cpu-prof', '--cpu-prof-dir', 'bench/profiles'] : [];
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', 'bench/ack-server.ts', name], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
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

async function round(s: Server, responseUrl: string, check: (body: string) => void): Promise<{ p50: number; p99: number }> {
  const results = await Promise.all(Array.from({ length: CONCURRENCY }, () => send(s.port, responseUrl)));
  for (const r of results) {
    if (r.status !== 200) throw new Error(`${s.name} answered HTTP ${r.status}: ${r.body.slice(0, 200)}`);
    check(r.body);
  }
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  return { p50: pct(ms, 0.5), p99: pct(ms, 0.99) };
}

const slack = await startSlackStandin();
const prefix = `cdbt-bench-${randomSuffix()}`;
const env = { SLACK_API_URL: slack.apiUrl, BENCH_BOT_TOKEN: slack.botToken, SIGNING_SECRET: SECRET, REDIS_URL, BENCH_PREFIX: prefix, BENCH_PROJECT: `cdbt${randomSuffix()}`, BENCH_CONFIG_JSON: configJson, ...(withStages ? { BENCH_STAGES: '1' } : {}) };
const cdb = await startServer('cdb', env);
const bare = await startServer('bare', env);
const responseUrl = slack.responseUrl('bench');
// The ack must keep its content: the request id and the "on its way" text.
const cdbCheck = (body: string) => {
  if (!/request `[A-Za-z0-9_-]{8,}`/.test(body)) throw new Error(`cdb ack lost its content: ${body.slice(0, 300)}`);
};
const bareCheck = () => undefined;
try {
  // Warm-up: JIT, connection pools, Bolt's first auth.test.
  await round(cdb, responseUrl, cdbCheck);
  await round(bare, responseUrl, bareCheck);
  const out = { cdb: [] as { p50: number; p99: number }[], bare: [] as { p50: number; p99: number }[] };
  for (let i = 0; i < ROUNDS; i++) {
    const order = i % 2 ? [bare, cdb] : [cdb, bare];
    for (const s of order) out[s.name as 'cdb' | 'bare'].push(await round(s, responseUrl, s === cdb ? cdbCheck : bareCheck));
  }
  const f = (n: number) => n.toFixed(1);
  console.log(`ack latency, ${CONCURRENCY} concurrent signed /cdb status per round, ${ROUNDS} rounds (node ${process.version}, ${new Date().toISOString()})`);
  console.log(`config override: ${configJson}`);
  for (const name of ['cdb', 'bare'] as const) {
    console.log(`${name.padEnd(4)} p99 per round: ${out[name].map((r) => f(r.p99)).join(' ')} ms · p50 per round: ${out[name].map((r) => f(r.p50)).join(' ')} ms`);
  }
  const p99 = { cdb: median(out.cdb.map((r) => r.p99)), bare: median(out.bare.map((r) => r.p99)) };
  const p50 = { cdb: median(out.cdb.map((r) => r.p50)), bare: median(out.bare.map((r) => r.p50)) };
  console.log(`median p99: cdb ${f(p99.cdb)} ms, bare Bolt ${f(p99.bare)} ms → ratio ${(p99.cdb / p99.bare).toFixed(2)}x (goal ≤ 1.10x)`);
  console.log(`median p50: cdb ${f(p50.cdb)} ms, bare Bolt ${f(p50.bare)} ms → ratio ${(p50.cdb / p50.bare).toFixed(2)}x`);
} finally {
  await stop(cdb);
  await stop(bare);
  for (const line of cdb.lines) {
    const parsed = JSON.parse(line) as { stages?: Record<string, number[]> };
    for (const [label, ms] of Object.entries(parsed.stages ?? {})) {
      const s = [...ms].sort((a, b) => a - b);
      console.log(`stage ${label}: n=${s.length} p50 ${pct(s, 0.5).toFixed(1)} ms, p99 ${pct(s, 0.99).toFixed(1)} ms`);
    }
  }
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
