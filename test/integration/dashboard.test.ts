// The optional read-only queue dashboard (bull-board) of the bot: off by default (nothing listens),
// on → the UI and the queues API answer, and every action route (retry, clean, promote, pause, empty,
// obliterate, remove) is refused with the jobs left as they were. Real Redis, real BullMQ queues.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { buildConfig } from '../../src/shared/config/load.ts';
import { JOBS_QUEUE, openJobsQueue } from '../../src/shared/queue/names.ts';
import { startBotDashboard, type Dashboard } from '../../src/main/bot-dashboard.ts';
import { REDIS_URL, SIGNING_SECRET } from '../support/harness.ts';
import { startSlackStandin } from '../support/slack-standin.ts';
import { freePort } from '../support/free-port.ts';
import { randomSuffix, waitFor } from '../support/compose-stack.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const log = pino({ level: 'silent' });

function refused(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      done(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'));
  });
}

describe('read-only queue dashboard (bull-board in the bot)', () => {
  const prefix = `cdbt-${randomSuffix()}`;
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('is off by default: a running bot listens on no dashboard port', async () => {
    const config = buildConfig({ stack: { project: 'shop' } }, {});
    expect(config.dashboard).toEqual({ enabled: false, host: '127.0.0.1', port: 9466 });
    expect(await startBotDashboard(config, redis, log)).toBeUndefined();

    // The real bot process, with the dashboard's port named but not enabled.
    const slack = await startSlackStandin();
    const dir = mkdtempSync(join(tmpdir(), 'cdbt-dash-'));
    const port = await freePort();
    const configPath = join(dir, 'cdb.yaml');
    writeFileSync(configPath, JSON.stringify({ stack: { project: `cdbt${randomSuffix()}` }, redis: { prefix }, dashboard: { port } }));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/bot.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', CDB_CONFIG: configPath, SLACK_MODE: 'http', PORT: String(await freePort()), SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: slack.apiUrl, REDIS_URL, LOG_LEVEL: 'info', HEALTH_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await waitFor(() => out.includes('"bot started"') || child.exitCode !== null, { what: 'the bot to start', timeoutMs: 90_000 });
      expect(child.exitCode, out).toBeNull();
      expect(await refused(port)).toBe(true);
      expect(out).not.toContain('dashboard listening');
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      await slack.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  describe('enabled', () => {
    let dashboard: Dashboard;
    let jobs: Queue;
    let base: string;

    beforeAll(async () => {
      const config = buildConfig({ stack: { project: 'shop' }, redis: { prefix }, dashboard: { enabled: true, port: 0 } }, {});
      jobs = openJobsQueue(config, redis, log, JOBS_QUEUE);
      await jobs.add('status', { requestId: 'dash-waiting' }, { jobId: 'dash-waiting' });
      dashboard = (await startBotDashboard(config, redis, log))!;
      base = `http://127.0.0.1:${dashboard.port}`;
    });

    afterAll(async () => {
      await dashboard?.close();
      await jobs?.close();
    });

    it('serves the UI and lists the queues, marked read-only', async () => {
      const ui = await fetch(`${base}/`);
      expect(ui.status).toBe(200);
      expect(ui.headers.get('content-type')).toContain('text/html');
      expect(await ui.text()).toContain('<div id="root">');
      const api = await fetch(`${base}/api/queues`);
      expect(api.status).toBe(200);
      const doc = (await api.json()) as { queues: { name: string; readOnlyMode: boolean; allowRetries: boolean }[] };
      expect(doc.queues.map((q) => q.name).sort()).toEqual(['jobs', 'replies']);
      for (const q of doc.queues) expect(q).toMatchObject({ readOnlyMode: true, allowRetries: false });
    });

    it('refuses every action route, and the job is left as it was', async () => {
      const routes = [
        ['PUT', '/api/queues/jobs/retry/failed'], ['PUT', '/api/queues/jobs/clean/waiting'], ['PUT', '/api/queues/jobs/dash-waiting/retry'],
        ['PUT', '/api/queues/jobs/dash-waiting/clean'], ['PUT', '/api/queues/jobs/dash-waiting/promote'], ['PUT', '/api/queues/jobs/empty'],
        ['PUT', '/api/queues/jobs/obliterate'], ['PUT', '/api/queues/jobs/pause'], ['PUT', '/api/queues/pause'], ['POST', '/api/queues/jobs/add'],
        ['DELETE', '/api/queues/jobs/dash-waiting'], ['POST', '/api/queues/jobs/dash-waiting/retry'], ['PATCH', '/api/queues/jobs/dash-waiting/update-data'],
      ] as const;
      for (const [method, path] of routes) {
        const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: '{}' });
        await res.arrayBuffer();
        expect(res.status, `${method} ${path}`).toBe(405);
      }
      const job = await jobs.getJob('dash-waiting');
      expect(job).toBeDefined();
      expect(await job!.getState()).toBe('waiting');
      expect(await jobs.isPaused()).toBe(false);
    });
  });
});
