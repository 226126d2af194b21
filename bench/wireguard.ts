// WireGuard rotation outage: /cdb rotate wireguard <tunnel> (the rotation, in-process) on two "hosts"
// (network namespaces with their own sshd and wireguard-go), reached over SSH as in production.
//
//   npm run bench:wireguard -- [runs=7]
//
// The outage is what the rotation's own probe measures: ping through the tunnel every 100 ms
// for the whole rotation, longest run of unanswered probes. Compared with the seeds' script
// (rotate-wireguard-keys.sh: "30-60 second tunnel outage").
import { Redis } from 'ioredis';
import { cpus, totalmem } from 'node:os';
import { buildConfig } from '../src/shared/config/load.ts';
import { createLogger } from '../src/shared/log.ts';
import { rotateWireguard } from '../src/features/rotation/wireguard/run.ts';
import { SEED_OUTAGE_MS } from '../src/shared/contracts/wireguard.ts';
import { randomSuffix } from '../test/support/compose-stack.ts';
import { startNetnsPair, type NetnsHost } from '../test/support/netns-hosts.ts';

const RUNS = Number(process.argv[2] ?? 7);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const pair = await startNetnsPair();
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const prefix = `cdbb-wg-${randomSuffix()}`;
try {
  const endpoint = (h: NetnsHost, name: string) => ({ name, host: `ssh://root@${h.sshHost}:22`, interface: h.iface, keyDir: h.keyDir, tunnelAddress: h.tunnelIp });
  const config = buildConfig({
    stack: { project: `cdbb${randomSuffix()}` },
    redis: { url: REDIS_URL, prefix },
    ssh: { privateKeyFile: pair.privateKeyPath, knownHostsFile: pair.knownHostsPath },
    wireguard: { tunnels: [{ name: 'bench', endpoints: [endpoint(pair.a, 'web'), endpoint(pair.b, 'services')] }] },
  }, {}, '(bench)');
  const log = createLogger({ level: 'warn', name: 'bench-wg' });
  const rows: { outage: number; total: number; apply: number; verify: number; lost: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await rotateWireguard({ config, redis, log, workerId: 'bench' }, 'bench',
      { requestId: `bench${randomSuffix()}`, command: 'rotate', args: { secret: 'wireguard', tunnel: 'bench' }, origin: { kind: 'cli' }, actor: { userId: 'local:bench', teamId: 'local' } },
      () => undefined, new AbortController().signal);
    if (r.status !== 'succeeded') throw new Error(`run ${i + 1}: ${r.status} ${r.error ?? ''}`);
    const ms = (n: string) => r.steps.find((s) => s.name === n)?.ms ?? NaN;
    rows.push({ outage: r.outageMs ?? NaN, total: r.totalMs, apply: ms('apply'), verify: ms('verify'), lost: r.probes[0]?.failures ?? 0 });
    console.log(`run ${i + 1}: outage ${r.outageMs} ms, total ${r.totalMs} ms (apply ${ms('apply')} ms, verify ${ms('verify')} ms), probes ${r.probes[0]?.probes} sent / ${r.probes[0]?.failures} unanswered`);
  }
  const out = median(rows.map((r) => r.outage));
  console.log(`\nmachine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, ${new Date().toISOString()}`);
  console.log(`median of ${RUNS}: outage ${out} ms (max ${Math.max(...rows.map((r) => r.outage))} ms), total ${median(rows.map((r) => r.total))} ms, apply ${median(rows.map((r) => r.apply))} ms, verify ${median(rows.map((r) => r.verify))} ms`);
  console.log(`seeds: ${SEED_OUTAGE_MS.min / 1000}-${SEED_OUTAGE_MS.max / 1000} s → ${(SEED_OUTAGE_MS.min / Math.max(out, 100)).toFixed(0)}× to ${(SEED_OUTAGE_MS.max / Math.max(out, 100)).toFixed(0)}× shorter (an outage of 0 ms counts as one probe interval)`);
} finally {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  await pair.stop();
}
