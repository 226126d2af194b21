// Doctor speed on a 100-container stack, next to what it replaces: `docker inspect <id>` run once
// per container, one after the other. Both measured in the same run, alternating, median of RUNS.
//
//   npm run bench:doctor            # 100 containers, 5 runs
//   BENCH_CONTAINERS=50 BENCH_RUNS=3 npm run bench:doctor
//
// Creates busybox containers (cdb-test/busybox, `sleep 3600`) labelled as one compose project and
// removes them afterwards, also on Ctrl-C.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { stringify } from 'yaml';
import { buildConfig } from '../src/shared/config/load.ts';
import { localFiles } from '../src/host/host-files.ts';
import { runDoctor } from '../src/features/doctor/run-doctor.ts';
import { mapLimit } from '../src/shared/map-limit.ts';
import { ensureTestImages } from '../test/support/images.ts';

const run = promisify(execFile);
const COUNT = Number(process.env.BENCH_CONTAINERS ?? 100);
const RUNS = Math.max(3, Number(process.env.BENCH_RUNS ?? 5));
const project = `cdbbench${Math.random().toString(16).slice(2, 8)}`;
const docker = new Docker();
const created: string[] = [];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function cleanup(): Promise<void> {
  await mapLimit(created.splice(0), 8, (id) => docker.getContainer(id).remove({ force: true }).catch(() => undefined));
}

process.once('SIGINT', () => {
  void cleanup().finally(() => process.exit(130));
});

async function main(): Promise<void> {
  const { busybox } = await ensureTestImages();
  const dir = await mkdtemp(join(tmpdir(), 'cdb-bench-doctor-'));
  try {
    process.stderr.write(`creating ${COUNT} containers (project ${project})…\n`);
    const services = Array.from({ length: COUNT }, (_, i) => `svc${String(i).padStart(3, '0')}`);
    await mapLimit(services, 8, async (service) => {
      const c = await docker.createContainer({
        Image: busybox, name: `${project}_${service}_1`, Cmd: ['sleep', '3600'],
        Labels: { 'com.docker.compose.project': project, 'com.docker.compose.service': service, 'com.docker.compose.oneoff': 'False' },
        HostConfig: { LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } } },
      });
      created.push(c.id);
      await c.start();
    });
    const composeFile = join(dir, 'docker-compose.yml');
    await writeFile(composeFile, stringify({ services: Object.fromEntries(services.map((s) => [s, { image: busybox, command: ['sleep', '3600'] }])) }));
    const config = buildConfig({ stack: { project, composeFiles: [composeFile] } }, {});
    // The same doctor with one Engine call at a time: what the concurrency bound buys.
    const serial = buildConfig({ stack: { project, composeFiles: [composeFile] }, doctor: { concurrency: 1 } }, {});
    const ids = [...created];

    const doctor = async (cfg = config) => {
      const r = await runDoctor({ docker, config: cfg, files: localFiles() });
      if (r.result.counts.containers !== COUNT) throw new Error(`doctor saw ${r.result.counts.containers} containers, expected ${COUNT}`);
      return r;
    };
    const loop = async () => {
      for (const id of ids) await run('docker', ['inspect', id], { maxBuffer: 16 * 1024 * 1024 });
    };

    await doctor(); // warm-up: module loading, first connection
    const doctorMs: number[] = [];
    const serialMs: number[] = [];
    const loopMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      doctorMs.push(await time(() => doctor()));
      serialMs.push(await time(() => doctor(serial)));
      loopMs.push(await time(loop));
      process.stderr.write(`run ${i + 1}/${RUNS}: doctor ${doctorMs[i]?.toFixed(0)} ms, doctor concurrency 1 ${serialMs[i]?.toFixed(0)} ms, docker inspect loop ${loopMs[i]?.toFixed(0)} ms\n`);
    }
    const findings = (await doctor()).result.findings.length;
    const { stdout: engine } = await run('docker', ['version', '--format', '{{.Server.Version}}']);
    const report = {
      date: new Date().toISOString().slice(0, 10),
      machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Docker ${engine.trim()}, Node ${process.version}`,
      containers: COUNT,
      runs: RUNS,
      checks: 21,
      findings,
      concurrency: config.doctor.concurrency,
      doctorMedianMs: Math.round(median(doctorMs)),
      doctorConcurrency1MedianMs: Math.round(median(serialMs)),
      inspectLoopMedianMs: Math.round(median(loopMs)),
      ratio: Number((median(loopMs) / median(doctorMs)).toFixed(1)),
      doctorRunsMs: doctorMs.map(Math.round),
      inspectLoopRunsMs: loopMs.map(Math.round),
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    const ok = report.doctorMedianMs < 2000 && report.ratio >= 5;
    process.stderr.write(`${ok ? 'PASS' : 'MISS'}: goal is < 2000 ms and ≥ 5× the sequential docker inspect loop\n`);
    process.exitCode = ok ? 0 : 1;
  } finally {
    process.stderr.write('removing containers…\n');
    await cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
