// The repository's Dockerfile, built here (test/support/cdb-image.ts) and run as the bot and the worker
// against the test Redis, hardened as compose/docker-compose.yml runs them: non-root, read-only root
// filesystem, no capabilities, the Docker socket only in the worker. Both must answer /healthz, and
// the compose file's own healthcheck command must pass inside each container.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCdbImage } from '../support/cdb-image.ts';
import { runCommand } from '../support/images.ts';
import { freePort } from '../support/free-port.ts';
import { randomSuffix, waitFor } from '../support/compose-stack.ts';
import { startSlackStandin, type SlackStandin } from '../support/slack-standin.ts';
import { REDIS_URL } from '../support/harness.ts';

const T = 900_000;

/** The `node -e` healthcheck of bot and worker, exactly as compose/docker-compose.yml has it. */
async function composeHealthcheck(): Promise<string[]> {
  const doc = parse(await readFile(join(import.meta.dirname, '../../compose/docker-compose.yml'), 'utf8'), { merge: true }) as { services: { bot: { healthcheck: { test: string[] } } } };
  const [kind, ...cmd] = doc.services.bot.healthcheck.test;
  expect(kind).toBe('CMD');
  return cmd;
}

describe('the Dockerfile, built and run as bot and worker', () => {
  const suffix = randomSuffix();
  const names = { bot: `cdbt${suffix}-bot`, worker: `cdbt${suffix}-worker` };
  const ports = { bot: 0, worker: 0 };
  let image = '';
  let dir = '';
  let slack: SlackStandin | undefined;

  const inspect = async (name: string) => JSON.parse((await runCommand('docker', ['inspect', name])).stdout)[0] as {
    Config: { User: string };
    State: { Running: boolean };
    HostConfig: { ReadonlyRootfs: boolean; CapDrop: string[] | null };
    Mounts: { Source: string; Destination: string }[];
  };
  const exec = (name: string, args: string[]) => runCommand('docker', ['exec', name, ...args], { timeoutMs: 60_000 });
  const logs = async (name: string) => {
    const r = await runCommand('docker', ['logs', '--tail', '40', name]).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
    return `${r.stdout}${r.stderr}`;
  };

  beforeAll(async () => {
    image = await ensureCdbImage();
    slack = await startSlackStandin();
    dir = await mkdtemp(join(tmpdir(), 'cdb-image-'));
    await chmod(dir, 0o755);
    ports.bot = await freePort();
    ports.worker = await freePort();
    const redis = new URL(REDIS_URL);
    await writeFile(join(dir, 'cdb.yaml'), `stack:\n  project: cdbt${suffix}\nredis:\n  url: redis://${redis.hostname}:${redis.port || 6379}\n  prefix: cdbt-${suffix}\nalerts:\n  enabled: false\n`);
    await writeFile(join(dir, 'slack_bot_token'), `${slack.botToken}\n`);
    await writeFile(join(dir, 'slack_signing_secret'), 'image-test-signing-secret-0123456789abcdef\n');
    for (const f of ['cdb.yaml', 'slack_bot_token', 'slack_signing_secret']) await chmod(join(dir, f), 0o644);
    // As compose runs them: uid 1000, read-only root, /tmp as the only scratch, no capabilities.
    // Host networking: the test Redis and the Slack stand-in listen on this host's loopback.
    const hardened = ['--network', 'host', '--user', '1000:1000', '--read-only', '--tmpfs', '/tmp:rw,noexec,nosuid,nodev,size=64m', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges:true', '--init',
      '-v', `${join(dir, 'cdb.yaml')}:/etc/cdb/cdb.yaml:ro`, '-e', 'CDB_CONFIG=/etc/cdb/cdb.yaml', '--label', `cdb-test=${suffix}`];
    await runCommand('docker', ['run', '-d', '--name', names.bot, ...hardened,
      '-v', `${join(dir, 'slack_bot_token')}:/run/secrets/slack_bot_token:ro`,
      '-v', `${join(dir, 'slack_signing_secret')}:/run/secrets/slack_signing_secret:ro`,
      '-e', 'SLACK_MODE=http', '-e', `PORT=${await freePort()}`, '-e', `SLACK_API_URL=${slack.apiUrl}`,
      '-e', 'SLACK_BOT_TOKEN_FILE=/run/secrets/slack_bot_token', '-e', 'SLACK_SIGNING_SECRET_FILE=/run/secrets/slack_signing_secret',
      '-e', `HEALTH_PORT=${ports.bot}`,
      image, 'node', 'dist/src/main/bot.js']);
    const dockerGid = String(statSync('/var/run/docker.sock').gid);
    await runCommand('docker', ['run', '-d', '--name', names.worker, ...hardened,
      '--group-add', dockerGid, '-v', '/var/run/docker.sock:/var/run/docker.sock:ro',
      '-e', `HEALTH_PORT=${ports.worker}`,
      image, 'node', 'dist/src/main/worker.js']);
  }, T);

  afterAll(async () => {
    for (const name of Object.values(names)) await runCommand('docker', ['rm', '-f', name]).catch(() => undefined);
    await slack?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, T);

  it.each(['bot', 'worker'] as const)('%s answers /healthz with 200 (Redis; the worker also Docker)', async (which) => {
    const body = await waitFor(async () => {
      const state = await inspect(names[which]);
      if (!state.State.Running) throw new Error(`${which} container exited:\n${await logs(names[which])}`);
      const res = await fetch(`http://127.0.0.1:${ports[which]}/healthz`).catch(() => undefined);
      return res?.status === 200 ? res.json() : undefined;
    }, { what: `${which} /healthz to answer 200`, timeoutMs: 180_000 }).catch(async (err: Error) => {
      throw new Error(`${err.message}\n--- ${which} logs ---\n${await logs(names[which])}`);
    });
    expect(body).toEqual(which === 'bot' ? { ok: true, checks: { redis: { ok: true } } } : { ok: true, checks: { redis: { ok: true }, docker: { ok: true } } });
    // compose's healthcheck command, run where compose runs it.
    const check = await composeHealthcheck();
    await expect(exec(names[which], check)).resolves.toBeDefined();
  }, T);

  it.each(['bot', 'worker'] as const)('%s runs as uid 1000 on a read-only root filesystem without capabilities', async (which) => {
    const info = await inspect(names[which]);
    expect(info.Config.User).toBe('1000:1000');
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.CapDrop).toContain('ALL');
    expect((await exec(names[which], ['id', '-u'])).stdout.trim()).toBe('1000');
    // Every process in the container (docker-init, node, this probe): real, effective, saved and fs uid 1000.
    const uids = (await exec(names[which], ['sh', '-c', "grep -h '^Uid:' /proc/[0-9]*/status"])).stdout.trim().split('\n');
    expect(uids.length).toBeGreaterThanOrEqual(2);
    for (const line of uids) expect(line.split(/\s+/).slice(1)).toEqual(['1000', '1000', '1000', '1000']);
    await expect(exec(names[which], ['touch', '/app/written'])).rejects.toThrow(/Read-only file system|Permission denied/);
    await expect(exec(names[which], ['touch', '/written'])).rejects.toThrow(/Read-only file system|Permission denied/);
  }, T);

  it('runs the compiled build: no TypeScript in /app, plain node on dist/ by default', async () => {
    // tsx at run time costs ~40 MB RSS per process (BENCHMARKS.md); the image carries only dist/.
    expect((await exec(names.worker, ['ls', '/app'])).stdout.trim().split(/\s+/).sort()).toEqual(['dist', 'node_modules', 'package.json']);
    expect((await exec(names.worker, ['find', '/app/dist', '-name', '*.ts'])).stdout.trim()).toBe('');
    const [config] = JSON.parse((await runCommand('docker', ['image', 'inspect', image])).stdout) as { Config: { Cmd: string[] } }[];
    expect(config?.Config.Cmd).toEqual(['node', 'dist/src/main/bot.js']);
  }, T);

  it('only the worker has the Docker socket', async () => {
    const bot = await inspect(names.bot);
    expect(bot.Mounts.map((m) => m.Destination)).not.toContain('/var/run/docker.sock');
    await expect(exec(names.bot, ['test', '-e', '/var/run/docker.sock'])).rejects.toThrow();
    const worker = await inspect(names.worker);
    expect(worker.Mounts.map((m) => m.Destination)).toContain('/var/run/docker.sock');
  }, T);
});
