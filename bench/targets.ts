// Command routing with many targets: ack latency and time to result of `/cdb status` (single
// stack) against `/cdb status --on <target>` with 2 and 10 targets, through the real bot (HTTP
// receiver, signed requests), BullMQ on Redis, the worker and Docker, with the Slack stand-in.
//
//   npm run bench:targets -- [runs=15] [rounds=4]
//
// One worker process serves all targets (CDB_TARGET=t0,…), so what differs is the routing: the
// target lookup, the heartbeat check, one queue per target. The stacks are empty compose projects,
// so the Engine API call is small and routing is a large share of the time.
import { cpus, loadavg, totalmem } from 'node:os';
import { buildConfig } from '../src/shared/config/load.ts';
import { startWorkerProcess } from '../src/main/start-worker.ts';
import { randomSuffix } from '../test/support/compose-stack.ts';
import { REDIS_URL, startHarness } from '../test/support/harness.ts';

const RUNS = Number(process.argv[2] ?? 15);
const ROUNDS = Number(process.argv[3] ?? 4);
const WARMUP = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const USER = 'U0BENCH1';
const CHANNEL = 'C2147483705';

async function measure(targets: number): Promise<{ ack: number; result: number }> {
  const suffix = randomSuffix();
  const names = Array.from({ length: targets }, (_, i) => `t${i}`);
  const common = { redis: { prefix: `cdbb-${suffix}` }, roles: { viewer: { users: [USER] } }, channels: { commands: [CHANNEL] }, alerts: { enabled: false } };
  const file = targets === 1
    ? { ...common, stack: { project: `cdbb${suffix}x0` } }
    : { ...common, targets: names.map((n, i) => ({ name: n, project: `cdbb${suffix}x${i}` })) };
  const h = await startHarness({ file, worker: false });
  const worker = await startWorkerProcess(buildConfig(file, { REDIS_URL }, '(bench worker)'), h.log, undefined, targets === 1 ? {} : { targets: names.join(',') });
  const last = targets - 1;
  const text = targets === 1 ? 'status' : `status --on t${last}`;
  const project = `cdbb${suffix}x${last}`;
  const acks: number[] = [];
  const results: number[] = [];
  try {
    // The first heartbeat must be in before a target accepts commands.
    for (let i = 0; i < 100; i++) {
      const body = (await (await h.slash(text, { user_id: USER })).json()) as { text: string };
      if (/on its way/.test(body.text)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await h.slack.waitForCall((c) => c.method === 'chat.postMessage' && JSON.stringify(c.args).includes(project), 60_000);
    for (let i = 0; i < WARMUP + RUNS; i++) {
      h.slack.reset();
      const t0 = performance.now();
      const res = await h.slash(text, { user_id: USER });
      const ack = performance.now() - t0;
      const body = (await res.json()) as { text: string };
      if (!/on its way/.test(body.text)) throw new Error(`not queued: ${body.text}`);
      await h.slack.waitForCall((c) => c.method === 'chat.postMessage' && JSON.stringify(c.args).includes(project), 60_000);
      if (i >= WARMUP) {
        acks.push(ack);
        results.push(performance.now() - t0);
      }
    }
  } finally {
    await worker.close();
    await h.close();
  }
  return { ack: median(acks), result: median(results) };
}

// Rounds alternate the order (1, 2, 10, then 10, 2, 1, …), so warming up (JIT, Docker, Redis) and
// drifts of the machine's load favour no setup.
const seen = new Map<number, { ack: number[]; result: number[] }>();
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
const loadBefore = load();
for (let round = 0; round < ROUNDS; round++) {
  for (const n of round % 2 ? [10, 2, 1] : [1, 2, 10]) {
    const r = await measure(n);
    console.log(`round ${round + 1}, ${n} target(s): ack ${r.ack.toFixed(1)} ms, result ${r.result.toFixed(0)} ms (load ${load()})`);
    const s = seen.get(n) ?? { ack: [], result: [] };
    s.ack.push(r.ack);
    s.result.push(r.result);
    seen.set(n, s);
  }
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const rows: [number, { ack: number; result: number }][] = [1, 2, 10].map((n) => [n, { ack: mean(seen.get(n)?.ack ?? []), result: mean(seen.get(n)?.result ?? []) }]);
const base = rows[0]?.[1] as { ack: number; result: number };
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, ${new Date().toISOString()}; median of ${RUNS} after ${WARMUP} warm-up per setup, mean of ${ROUNDS} rounds (alternating order); load average ${loadBefore} before, ${load()} after`);
console.log('| targets | ack (median) | vs single | time to result (median) | vs single |');
console.log('| ---: | ---: | ---: | ---: | ---: |');
for (const [n, r] of rows) {
  console.log(`| ${n === 1 ? '1 (no `targets:`)' : n} | ${r.ack.toFixed(1)} ms | ${(r.ack / base.ack).toFixed(2)}× | ${r.result.toFixed(0)} ms | ${(r.result / base.result).toFixed(2)}× |`);
}
process.exit(0);
