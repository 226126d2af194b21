// The doctor against real containers: a deliberately bad stack next to a hardened service, through
// the job processor in-process and through the CLI. Needs Docker and Redis (scripts/ensure-services.sh).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Docker from 'dockerode';
import { stringify } from 'yaml';
import job from '../../jobs/doctor.ts';
import planJob from '../../jobs/doctor-plan.ts';
import { runCli } from '../../src/main/run-cli.ts';
import { buildConfig } from '../../src/shared/config/load.ts';
import type { Config } from '../../src/shared/config/schema.ts';
import { CHECK_IDS, type DoctorResult, type Finding } from '../../src/shared/contracts/doctor.ts';
import type { Actor, Notice } from '../../src/shared/contracts/envelope.ts';
import { OpsError } from '../../src/shared/errors.ts';
import { createLogger } from '../../src/shared/log.ts';
import type { JobContext } from '../../src/worker/define-job.ts';
import { ensureTestImages } from '../support/images.ts';
import { jobRedis } from '../support/harness.ts';
import { randomSuffix, startComposeStack, waitFor, type ComposeServices, type ComposeStack } from '../support/compose-stack.ts';
import { freePort } from '../support/free-port.ts';

const LOCAL: Actor = { userId: 'local:tester', teamId: 'local' };
const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const redis = jobRedis();

function ctxFor(config: Config, docker: Docker, actor: Actor = LOCAL, notices: Omit<Notice, 'type'>[] = [], progress: string[] = []): JobContext {
  return {
    requestId: `itest${randomSuffix()}`, actor, config, docker, redis, log, signal: new AbortController().signal,
    progress: (t) => progress.push(t),
    notify: async (n) => {
      notices.push(n);
    },
  };
}


function capture(): { stream: Writable; text: () => string } {
  let out = '';
  return { stream: new Writable({ write: (chunk: Buffer, _enc, cb) => { out += chunk.toString(); cb(); } }), text: () => out };
}

const HARDENED = {
  user: '1000:1000',
  read_only: true,
  cap_drop: ['ALL'],
  security_opt: ['no-new-privileges:true'],
  mem_limit: '64m',
  pids_limit: 64,
  healthcheck: { test: ['CMD', 'true'], interval: '1s', timeout: '3s', retries: 3 },
  logging: { driver: 'json-file', options: { 'max-size': '1m', 'max-file': '3' } },
  restart: 'unless-stopped' as const,
};

describe('doctor on a real stack: a bad container fails each check, a hardened one passes', () => {
  const docker = new Docker();
  let stack: ComposeStack;
  let config: Config;
  let squatter: Docker.Container | undefined;
  let orphanVolume = '';
  let secrets = '';
  let result: DoctorResult;
  const mine = (name: string) => (f: Finding) => f.name === name || f.service === name;

  beforeAll(async () => {
    const images = await ensureTestImages();
    const project = `cdbt${randomSuffix()}`;
    const taken = await freePort();
    // A container of another project holds the port the declared-but-stopped `ghost` wants.
    squatter = await docker.createContainer({
      Image: images.busybox, name: `${project}-squatter`, Cmd: ['httpd', '-f', '-p', '8080', '-h', '/tmp'], ExposedPorts: { '8080/tcp': {} },
      HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(taken) }] } },
    });
    await squatter.start();

    const services: ComposeServices = {
      good: { ...HARDENED, command: ['httpd', '-f', '-p', '8080', '-h', '/tmp'], ports: ['127.0.0.1::8080'], environment: { APP_PASSWORD_FILE: '/run/secrets/app_password' }, secrets: ['app_password'], networks: ['default', 'backend'], volumes: ['data:/data'] },
      bad: {
        command: ['httpd', '-f', '-p', '8080', '-h', '/tmp'], ports: ['0.0.0.0::8080'], cap_add: ['SYS_ADMIN'],
        environment: { FOO_PASSWORD: 'hunter2-plaintext', DB_PASSWORD: 'both-set-value', DB_PASSWORD_FILE: '/run/secrets/db_password' },
        volumes: ['SECRETS/grafana_password:/run/secrets/grafana_password:ro'],
      },
      worse: { command: ['sleep', '3600'], pid: 'host', ipc: 'host', network_mode: 'host', volumes: ['/var/run/docker.sock:/var/run/docker.sock'] },
      // No restart policy (compose reads a written `no` as a YAML 1.1 boolean): they stay exited.
      crashed: { ...HARDENED, restart: undefined, command: ['sh', '-c', 'exit 3'] },
      stray: { command: ['true'] },
      strayrun: { ...HARDENED, command: ['sleep', '3600'] },
    };
    const extra = { secrets: { app_password: { file: 'SECRETS/app_password' } }, networks: { backend: { internal: true } }, volumes: { data: {} } };
    // Secret files live in a directory of their own, made before the stack starts.
    secrets = join('/tmp', `cdbt-doctor-secrets-${randomSuffix()}`);
    await mkdir(join(secrets, 'grafana_password'), { recursive: true });
    await writeFile(join(secrets, 'app_password'), 'correct horse');
    await chmod(join(secrets, 'app_password'), 0o600);
    const fill = <T>(v: T): T => JSON.parse(JSON.stringify(v).replaceAll('SECRETS', secrets)) as T;
    stack = await startComposeStack({ project, services: fill(services), extra: fill(extra) });

    // The compose files the doctor reads: the stack minus the strays, plus `ghost`; an overlay moves bad's image.
    // This dockerd cannot start privileged containers (its capability bounding set is short), so
    // `priv` is created the way compose would label it, and inspected without ever running.
    await docker.createContainer({
      Image: images.busybox, name: `${project}_priv_1`, Cmd: ['sleep', '3600'],
      Labels: { 'com.docker.compose.project': project, 'com.docker.compose.service': 'priv', 'com.docker.compose.oneoff': 'False' },
      HostConfig: { Privileged: true },
    });
    const declared = fill({ ...services, priv: { command: ['sleep', '3600'], privileged: true }, ghost: { image: images.busybox, command: ['sleep', '3600'], ports: [`127.0.0.1:${taken}:80`] } }) as Record<string, Record<string, unknown>>;
    delete declared.stray;
    delete declared.strayrun;
    for (const svc of Object.values(declared)) svc.image ??= images.busybox;
    const base = join(stack.dir, 'doctor-base.yml');
    const overlay = join(stack.dir, 'doctor-overlay.yml');
    await writeFile(base, stringify({ version: '2.4', services: declared, ...fill(extra) }));
    await writeFile(overlay, stringify({ version: '2.4', services: { bad: { image: 'cdb-test/busybox:newer' } } }));

    const vol = await docker.createVolume({ Name: `${project}_oldvol`, Labels: { 'com.docker.compose.project': project, 'com.docker.compose.volume': 'oldvol' } });
    orphanVolume = vol.name;

    config = buildConfig({
      stack: { project, composeFiles: [base, overlay] },
      redis: { prefix: `cdbt-${randomSuffix()}` },
      doctor: { production: true, expectedNetworks: [`${project}_backend`, `${project}_missing`], requiredSecrets: ['app_password'], timeoutSeconds: 30 },
    }, { REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379' }, '(doctor test)');

    await waitFor(async () => (await stack.ps()).find((c) => c.service === 'crashed' && c.status === 'exited'), { what: 'crashed to exit', timeoutMs: 60_000 });
    await waitFor(async () => (await stack.ps()).find((c) => c.service === 'stray' && c.status === 'exited'), { what: 'stray to exit', timeoutMs: 60_000 });
    await waitFor(async () => (await stack.ps()).find((c) => c.service === 'good' && c.health === 'healthy'), { what: 'good to be healthy', timeoutMs: 120_000 });
    result = await job.run(ctxFor(config, docker), {});
  });

  afterAll(async () => {
    await stack?.down();
    await squatter?.remove({ force: true }).catch(() => undefined);
    if (orphanVolume) await docker.getVolume(orphanVolume).remove().catch(() => undefined);
    if (secrets) await rm(secrets, { recursive: true, force: true });
    await redis.quit();
  });

  it('gives every check a line, and the hardened service none but passes', () => {
    for (const id of CHECK_IDS) expect(result.findings.some((f) => f.check === id), id).toBe(true);
    expect(result.findings.filter(mine('good'))).toEqual([]);
    expect(result.counts.containers).toBe(7);
  });

  it('fails the bad containers on every hardening rule', () => {
    const failing = (name: string) => new Set(result.findings.filter(mine(name)).map((f) => f.check));
    const bad = failing('bad');
    for (const id of ['run-as-root', 'capabilities', 'no-new-privileges', 'rootfs-writable', 'memory-limit', 'pids-limit', 'healthcheck', 'restart-policy', 'log-limits', 'port-exposure', 'password-contract', 'compose-drift']) {
      expect(bad.has(id as Finding['check']), id).toBe(true);
    }
    const worse = failing('worse');
    for (const id of ['host-namespaces', 'docker-socket']) expect(worse.has(id as Finding['check']), id).toBe(true);
    expect(failing('priv').has('privileged')).toBe(true);
    expect(result.findings.find((f) => f.check === 'capabilities' && f.service === 'bad')?.detail).toContain('SYS_ADMIN');
  });

  it('finds the stack-level problems of the seeds\' stack doctor', () => {
    const line = (check: string, pred: (f: Finding) => boolean) => result.findings.find((f) => f.check === check && pred(f));
    const p = stack.project;
    expect(line('orphan-containers', (f) => f.name === `${p}_stray_1`)).toMatchObject({ fixable: 'safe', severity: 'low' });
    expect(line('orphan-containers', (f) => f.name === `${p}_strayrun_1`)).toMatchObject({ fixable: 'approval' });
    expect(line('orphan-volumes', (f) => f.name === orphanVolume)).toMatchObject({ target: 'volume', fixable: 'approval' });
    expect(line('orphan-volumes', (f) => f.name === `${p}_data`)).toBeUndefined();
    expect(line('port-exposure', (f) => f.service === 'bad')?.detail).toMatch(/0\.0\.0\.0:\d+->8080\/tcp on every interface/);
    expect(line('port-conflicts', (f) => f.service === 'ghost')?.detail).toContain(`${p}-squatter already publishes`);
    expect(line('secret-files', (f) => f.name.endsWith('/grafana_password'))).toMatchObject({ status: 'fail', severity: 'critical', target: 'file', detail: expect.stringContaining('is a directory') });
    expect(line('secret-files', (f) => f.name.endsWith('/app_password'))).toBeUndefined();
    expect(line('password-contract', (f) => f.severity === 'critical')?.detail).toContain('DB_PASSWORD and DB_PASSWORD_FILE');
    expect(line('password-contract', (f) => f.severity === 'high')?.detail).toContain('FOO_PASSWORD');
    expect(line('network-integrity', (f) => f.name === `${p}_missing`)?.detail).toContain('does not exist');
    expect(line('network-integrity', (f) => f.name === `${p}_default`)?.detail).toContain('is not internal');
    expect(line('network-integrity', (f) => f.name === `${p}_backend`)).toBeUndefined();
    expect(line('compose-drift', (f) => f.service === 'ghost')?.detail).toContain('has no container');
    expect(line('compose-drift', (f) => f.service === 'bad')?.detail).toContain('compose: cdb-test/busybox:newer');
    expect(line('container-health', (f) => f.service === 'crashed')?.detail).toBe('exited with code 3');
  });

  it('never puts a secret value into the result', () => {
    const text = JSON.stringify(result);
    for (const secret of ['hunter2-plaintext', 'both-set-value', 'correct horse']) expect(text).not.toContain(secret);
  });

  it('runs through the CLI: --json gives {findings:[{check,status,target,detail,runbook}]} and exit code 1', async () => {
    const out = capture();
    const err = capture();
    const code = await runCli({ argv: ['doctor', '--json'], loadConfig: () => config, user: 'tester', log, stdout: out.stream, stderr: err.stream });
    expect(code, err.text()).toBe(1);
    const parsed = JSON.parse(out.text()) as { findings: Record<string, unknown>[] };
    expect(parsed.findings.length).toBeGreaterThan(20);
    for (const f of parsed.findings) {
      expect([...CHECK_IDS, 'doctor']).toContain(f.check);
      expect(['fail', 'warn', 'pass']).toContain(f.status);
      expect(['container', 'volume', 'file', 'network', 'stack']).toContain(f.target);
      expect(typeof f.detail).toBe('string');
      expect(typeof f.runbook).toBe('string');
    }
    const table = capture();
    expect(await runCli({ argv: ['doctor', 'ports'], loadConfig: () => config, user: 'tester', log, stdout: table.stream, stderr: capture().stream })).toBe(1);
    expect(table.text()).toMatch(/^STATUS\s+SEVERITY\s+CHECK\s+TARGET\s+NAME\s+DETAIL/);
    expect(table.text()).toMatch(/FAIL\s+high\s+port-exposure/);
    expect(table.text()).not.toMatch(/run-as-root/);
  });

  it('refuses unknown check ids with the known list', async () => {
    const err = capture();
    const code = await runCli({ argv: ['doctor', 'no-such-check'], loadConfig: () => config, user: 'tester', log, stdout: capture().stream, stderr: err.stream });
    expect(code).toBe(2);
    expect(err.text()).toMatch(/unknown check id no-such-check; known: orphan-containers, /);
  });

  it('--fix removes the stopped orphan only, lists the destructive fixes as needing approval, and reports the stack after', async () => {
    const progress: string[] = [];
    const viewer: Actor = { userId: 'U0VIEWER1', teamId: 'T0001' };
    await expect(job.run(ctxFor(config, docker, viewer), { fix: true })).rejects.toThrow(/needs the \*operator\* role/);
    await expect(job.run(ctxFor(config, docker), { fix: 'all' })).rejects.toMatchObject({ code: 'APPROVAL_REQUIRED' } satisfies Partial<OpsError>);

    const fixed = await job.run(ctxFor(config, docker, LOCAL, [], progress), { fix: true });
    const p = stack.project;
    expect(progress.join('\n')).toContain(`will remove stopped orphan container ${p}_stray_1 (docker rm ${p}_stray_1)`);
    expect(fixed.fixes).toEqual(expect.arrayContaining([
      expect.objectContaining({ target: `${p}_stray_1`, outcome: 'done' }),
      expect.objectContaining({ target: `${p}_strayrun_1`, outcome: 'needs-approval' }),
      expect.objectContaining({ target: orphanVolume, outcome: 'needs-approval' }),
    ]));
    const names = (await stack.ps()).map((c) => c.name);
    expect(names).not.toContain(`${p}_stray_1`);
    expect(names).toContain(`${p}_strayrun_1`);
    expect((await docker.getVolume(orphanVolume).inspect()).Name).toBe(orphanVolume);
    expect(fixed.findings.find((f) => f.name === `${p}_stray_1`)).toBeUndefined();
    expect(fixed.findings.find((f) => f.name === `${p}_strayrun_1`)).toBeDefined();
  });

  it('reports a container that disappears mid-run, and checks the rest', async () => {
    const victim = await stack.container('strayrun');
    const vanishing = new Docker();
    const list = vanishing.listContainers.bind(vanishing);
    vanishing.listContainers = (async (opts?: Docker.ContainerListOptions) => {
      const found = await list(opts ?? {});
      if (JSON.stringify(opts?.filters ?? {}).includes(stack.project)) await docker.getContainer(victim.id).remove({ force: true });
      return found;
    }) as typeof vanishing.listContainers;
    const after = await job.run(ctxFor(config, vanishing), { checks: ['run-as-root'] });
    expect(after.findings).toContainEqual(expect.objectContaining({ check: 'doctor', status: 'warn', name: victim.name, detail: expect.stringContaining('disappeared during the run') }));
    expect(after.findings.some((f) => f.check === 'run-as-root' && f.service === 'bad')).toBe(true);
  });

  it('reports a Docker daemon that is down: a DOCKER_UNAVAILABLE line and exit code 1, from the job and the CLI', async () => {
    const down = buildConfig({ stack: { project: stack.project, docker: 'unix:///tmp/nonexistent.sock' }, redis: { prefix: config.redis.prefix } }, { REDIS_URL: config.redis.url }, '(down)');
    const r = await job.run(ctxFor(down, new Docker({ socketPath: '/tmp/nonexistent.sock' })), {});
    // (The test Redis keeps nothing on disk: doctor adds its `redis` persistence line, not about Docker.)
    expect(r.findings.filter((f) => f.name !== 'redis')).toEqual([expect.objectContaining({ check: 'doctor', status: 'fail', target: 'stack', detail: expect.stringMatching(/^DOCKER_UNAVAILABLE: The Docker Engine is not reachable \(ENOENT/) })]);
    const out = capture();
    expect(await runCli({ argv: ['doctor', '--json'], loadConfig: () => down, user: 'tester', log, stdout: out.stream, stderr: capture().stream })).toBe(1);
    expect((JSON.parse(out.text()) as DoctorResult).findings[0]?.detail).toContain('DOCKER_UNAVAILABLE');
  });

  it('--fix=all runs the destructive fixes only in a run the approval gate admitted', async () => {
    const p = stack.project;
    const { busybox } = await ensureTestImages();
    const late = await docker.createContainer({
      Image: busybox, name: `${p}_straylate_1`, Cmd: ['sleep', '3600'],
      Labels: { 'com.docker.compose.project': p, 'com.docker.compose.service': 'straylate', 'com.docker.compose.oneoff': 'False' },
    });
    await late.start();
    // Arguments alone unlock nothing: the same request without an admitted approval is refused.
    await expect(job.run(ctxFor(config, docker), { fix: 'all' })).rejects.toMatchObject({ code: 'APPROVAL_REQUIRED' } satisfies Partial<OpsError>);
    expect((await late.inspect()).State.Running).toBe(true);
    const approved: JobContext = { ...ctxFor(config, docker), approval: { id: 'apr-itest', approvers: ['U0APPROVER'] } };
    // What the approver is shown, and pinned: exactly these orphans.
    const plan = await planJob.run(ctxFor(config, docker), {});
    expect(plan.destructive.map((d) => d.target)).toEqual(expect.arrayContaining([`${p}_straylate_1`, orphanVolume]));
    // A plan that no longer matches the stack (approved before something changed) removes nothing.
    await expect(job.run(approved, { fix: 'all', expectPlan: '0000000000000000' })).rejects.toMatchObject({ code: 'PLAN_CHANGED' });
    expect((await late.inspect()).State.Running).toBe(true);
    const fixed = await job.run(approved, { fix: 'all', expectPlan: plan.fingerprint });
    expect(fixed.fixes).toEqual(expect.arrayContaining([
      expect.objectContaining({ target: `${p}_straylate_1`, outcome: 'done' }),
      expect.objectContaining({ target: orphanVolume, outcome: 'done' }),
    ]));
    await expect(late.inspect()).rejects.toThrow();
    await expect(docker.getVolume(orphanVolume).inspect()).rejects.toThrow();
  });
});
