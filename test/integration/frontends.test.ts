import { execFile, spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { randomSuffix, startComposeStack, waitFor, type ComposeStack } from '../support/compose-stack.ts';
import { startSshd, type SshdHandle } from '../support/sshd.ts';
import { REDIS_URL } from '../support/harness.ts';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createLogger } from '../../src/shared/log.ts';
import { runCli } from '../../src/main/run-cli.ts';
import { createDocker } from '../../src/host/docker-client.ts';
import { collectStatus } from '../../jobs/status.ts';
import type { StatusResult } from '../../src/shared/contracts/status.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

function sink() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { stream, read: () => text };
}

describe('terminal front ends and remote Docker', () => {
  let stack: ComposeStack;
  let configPath: string;
  const prefix = `cdbt-${randomSuffix()}`;

  beforeAll(async () => {
    stack = await startComposeStack({ project: `cdbt${randomSuffix()}` });
    await waitFor(async () => (await stack.ps()).find((c) => c.service === 'web' && c.health === 'healthy'), { what: 'web to be healthy', timeoutMs: 120_000 });
    configPath = join(mkdtempSync(join(tmpdir(), 'cdb-cli-')), 'cdb.yaml');
    writeFileSync(configPath, stringify({ stack: { project: stack.project }, redis: { url: REDIS_URL, prefix } }));
  });

  afterAll(async () => {
    await stack?.down();
  });

  it('cdb status --json prints the containers as JSON and audits the call', async () => {
    const out = sink();
    const err = sink();
    const config = buildConfig({ stack: { project: stack.project }, redis: { url: REDIS_URL, prefix } }, {});
    const code = await runCli({ argv: ['status', '--json'], loadConfig: () => config, user: 'alice', log: createLogger({ level: 'silent' }), stdout: out.stream, stderr: err.stream });
    expect(code).toBe(0);
    const result = JSON.parse(out.read()) as StatusResult;
    expect(result.containers.map((c) => c.service).sort()).toEqual(['crashloop', 'exposed', 'web']);
    expect(result.containers.find((c) => c.service === 'exposed')?.ports.some((p) => p.exposed)).toBe(true);
  });

  it('the installed bin prints help and a text table, and fails clearly on bad input', async () => {
    const env = { ...process.env, CDB_CONFIG: configPath };
    const help = await run('node', [join(ROOT, 'bin/cdb.js'), 'help'], { env });
    expect(help.stdout).toContain('cdb status [service]');
    const table = await run('node', [join(ROOT, 'bin/cdb.js'), 'status'], { env });
    expect(table.stdout).toMatch(/SERVICE\s+CONTAINER\s+STATE/);
    expect(table.stdout).toMatch(/0\.0\.0\.0:\d+->9000\/tcp \(ALL INTERFACES!\)/);
    const bad = await run('node', [join(ROOT, 'bin/cdb.js'), 'status', 'a;b'], { env }).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 2 });
    expect((bad as { stderr: string }).stderr).toMatch(/^cdb: service: a service name/);
  });

  it('npm run dev without Slack tokens opens the local demo console; /cdb status goes through queue and worker', async () => {
    // node itself, not `npx tsx`: npx's own child would outlive a kill of npx.
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/dev.ts'], { cwd: ROOT, env: { ...process.env, CDB_CONFIG: configPath, SLACK_BOT_TOKEN: '', LOG_LEVEL: 'warn', HEALTH_PORT: '0' }, stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise((r) => child.once('exit', r));
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await waitFor(() => out.includes('cdb> '), { what: 'the console prompt', timeoutMs: 60_000 });
      expect(out).toContain('NOT connected to Slack');
      child.stdin.write('/cdb status\n');
      await waitFor(() => /SERVICE\s+CONTAINER/.test(out), { what: 'the status table from the worker', timeoutMs: 60_000 });
      expect(out).toContain('is on its way');
      expect(out).toMatch(/crashloop/);
      child.stdin.write('exit\n');
      await exited;
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    }
  });

  it('the demo console refuses to start with NODE_ENV=production', async () => {
    const res = await run(process.execPath, ['--import', 'tsx', 'src/main/dev.ts'], { cwd: ROOT, env: { ...process.env, CDB_CONFIG: configPath, NODE_ENV: 'production', HEALTH_PORT: '0' } }).catch((e: { code: number; stderr: string }) => e);
    expect(res).toMatchObject({ code: 2 });
    expect((res as { stderr: string }).stderr).toContain('refuses to run with NODE_ENV=production');
  });

  it('the worker refuses to start with any Slack credential in its environment', async () => {
    const res = await run(process.execPath, ['--import', 'tsx', 'src/main/worker.ts'], { cwd: ROOT, env: { ...process.env, CDB_CONFIG: configPath, SLACK_APP_TOKEN_FILE: '/run/secrets/x', HEALTH_PORT: '0' } }).catch((e: { code: number; stderr: string }) => e);
    expect(res).toMatchObject({ code: 2 });
    expect((res as { stderr: string }).stderr).toContain('must not hold Slack credentials: remove SLACK_APP_TOKEN_FILE');
  });

  describe('Docker over SSH with a pinned host key', () => {
    let sshd: SshdHandle;
    beforeAll(async () => {
      sshd = await startSshd();
    });
    afterAll(async () => {
      await sshd?.stop();
    });

    it('reads the stack status through ssh://root@127.0.0.1:<port>', async () => {
      const config = buildConfig({ stack: { project: stack.project, docker: `ssh://root@127.0.0.1:${sshd.port}` }, ssh: { privateKeyFile: sshd.privateKeyPath, knownHostsFile: sshd.knownHostsPath } }, {});
      const result = await collectStatus(createDocker(config), stack.project);
      expect(result.containers.map((c) => c.service).sort()).toEqual(['crashloop', 'exposed', 'web']);
    });

    it('refuses a host whose key is not the pinned one', async () => {
      const otherKnownHosts = join(mkdtempSync(join(tmpdir(), 'cdb-kh-')), 'known_hosts');
      writeFileSync(otherKnownHosts, `[127.0.0.1]:${sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`);
      const config = buildConfig({ stack: { project: stack.project, docker: `ssh://root@127.0.0.1:${sshd.port}` }, ssh: { privateKeyFile: sshd.privateKeyPath, knownHostsFile: otherKnownHosts } }, {});
      await expect(collectStatus(createDocker(config), stack.project)).rejects.toThrow();
    });

    it('refuses to start without a known_hosts entry (no trust on first use)', () => {
      const empty = join(mkdtempSync(join(tmpdir(), 'cdb-kh-')), 'known_hosts');
      writeFileSync(empty, '');
      const config = buildConfig({ stack: { project: stack.project, docker: `ssh://root@127.0.0.1:${sshd.port}` }, ssh: { privateKeyFile: sshd.privateKeyPath, knownHostsFile: empty } }, {});
      expect(() => createDocker(config)).toThrowError(/has no host key/);
    });
  });
});
