import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/shared/config/load.ts';
import { startBotCore } from '../../src/main/start-bot.ts';
import { startBotHealth } from '../../src/main/bot-health.ts';
import { startWorkerHealth } from '../../src/main/worker-health.ts';
import { connectRedis } from '../../src/shared/queue/names.ts';
import { createLogger } from '../../src/shared/log.ts';
import type { HealthServer } from '../../src/shared/health-server.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { randomSuffix, waitFor } from '../support/compose-stack.ts';
import { freePort } from '../support/free-port.ts';

const VIEWER = 'U0VIEWER1';
const log = createLogger({ level: 'silent' });

async function get(port: number, path: string): Promise<{ status: number; body: string; json: () => { ok: boolean; checks: Record<string, { ok: boolean; error?: string }> } }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  const body = await res.text();
  return { status: res.status, body, json: () => JSON.parse(body) as { ok: boolean; checks: Record<string, { ok: boolean; error?: string }> } };
}

/** The value of one sample line of a Prometheus text body, e.g. cdb_jobs_total{job="status",outcome="succeeded"}. */
function sample(body: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of body.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('health and metrics of the real bot and worker', () => {
  let h: Harness;
  let botHealth: HealthServer | undefined;
  let workerHealth: HealthServer | undefined;

  beforeAll(async () => {
    h = await startHarness({ file: { roles: { viewer: { users: [VIEWER] } }, health: { botPort: 0, workerPort: 0 } } });
    botHealth = await startBotHealth(h.config, h.bot, log);
    workerHealth = await startWorkerHealth(h.config, h.worker!, log);
  }, 60_000);

  afterAll(async () => {
    await botHealth?.close();
    await workerHealth?.close();
    await h?.close();
  });

  it('binds 127.0.0.1 by default and answers 200 when Redis (and Docker, for the worker) answer', async () => {
    expect((botHealth!.server.address() as AddressInfo).address).toBe('127.0.0.1');
    expect((workerHealth!.server.address() as AddressInfo).address).toBe('127.0.0.1');
    const bot = await get(botHealth!.port, '/healthz');
    expect(bot.status).toBe(200);
    expect(bot.json()).toEqual({ ok: true, checks: { redis: { ok: true } } });
    const worker = await get(workerHealth!.port, '/healthz');
    expect(worker.status).toBe(200);
    expect(worker.json()).toEqual({ ok: true, checks: { redis: { ok: true }, docker: { ok: true } } });
    expect((await get(botHealth!.port, '/nope')).status).toBe(404);
  });

  it('counts a command, its ack and its job, and shows queue depth and open incidents', async () => {
    const res = await h.slash('status', { user_id: VIEWER });
    expect(res.status).toBe(200);
    await h.slack.waitForCall((c) => c.method === 'chat.postMessage', 60_000);
    const bot = await get(botHealth!.port, '/metrics');
    expect(bot.status).toBe(200);
    expect(sample(bot.body, 'cdb_commands_total', { command: 'status', outcome: 'accepted' })).toBeGreaterThanOrEqual(1);
    expect(sample(bot.body, 'cdb_ack_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(bot.body, 'cdb_queue_jobs', { queue: 'jobs', state: 'waiting' })).toBeGreaterThanOrEqual(0);
    const worker = await waitFor(async () => {
      const m = await get(workerHealth!.port, '/metrics');
      return (sample(m.body, 'cdb_jobs_total', { job: 'status', outcome: 'succeeded' }) ?? 0) >= 1 ? m : undefined;
    }, { what: 'the status job in the worker metrics' });
    expect(sample(worker.body, 'cdb_job_duration_seconds_count', { job: 'status', outcome: 'succeeded' })).toBeGreaterThanOrEqual(1);
    expect(sample(worker.body, 'cdb_queue_oldest_waiting_seconds', { queue: 'jobs' })).toBeGreaterThanOrEqual(0);
    expect(sample(worker.body, 'cdb_open_incidents')).toBe(0);
    expect(worker.body).toContain('# TYPE cdb_loki_errors_total counter');
    expect(worker.body).toContain('# TYPE cdb_docker_errors_total counter');
    expect(worker.body).toContain('# TYPE cdb_approvals_total counter');
    // A typo must not create a time series of its own.
    await h.slash('no-such-command', { user_id: VIEWER });
    const after = await get(botHealth!.port, '/metrics');
    expect(sample(after.body, 'cdb_commands_total', { command: 'unknown', outcome: 'rejected' })).toBeGreaterThanOrEqual(1);
    expect(after.body).not.toContain('no-such-command');
  }, 90_000);

  it('the worker is unhealthy when its Docker endpoint does not answer, and says so', async () => {
    const closed = await freePort();
    const docker = new Docker({ host: '127.0.0.1', port: closed, protocol: 'http' });
    const health = await startWorkerHealth(h.config, { connection: h.worker!.connection, docker }, log);
    try {
      const res = await get(health!.port, '/healthz');
      expect(res.status).toBe(503);
      const body = res.json();
      expect(body.ok).toBe(false);
      expect(body.checks.redis).toEqual({ ok: true });
      expect(body.checks.docker?.ok).toBe(false);
      expect(body.checks.docker?.error).toMatch(/ECONNREFUSED|connect/);
    } finally {
      await health?.close();
    }
  });
});

describe('health when Redis goes down', () => {
  let redis: ChildProcess | undefined;
  const startRedis = async (port: number): Promise<ChildProcess> => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    child.once('error', (err) => {
      throw new Error(`redis-server could not start (is Debian's redis-server installed?): ${err.message}`);
    });
    return child;
  };
  afterAll(async () => {
    if (redis && redis.exitCode === null && redis.signalCode === null) {
      redis.kill('SIGKILL');
      await once(redis, 'exit');
    }
  });

  it('bot /healthz turns 503 naming redis while it is down, and 200 again when it is back', async () => {
    const port = await freePort();
    redis = await startRedis(port);
    const config = buildConfig({ stack: { project: `cdbt${randomSuffix()}` }, redis: { prefix: `cdbt-${randomSuffix()}` }, health: { botPort: 0 } }, { REDIS_URL: `redis://127.0.0.1:${port}` });
    const core = await startBotCore(config, log);
    const health = await startBotHealth(config, { core }, log);
    try {
      await waitFor(async () => (await get(health!.port, '/healthz')).status === 200, { what: 'the bot to see its own Redis' });
      redis.kill('SIGKILL');
      await once(redis, 'exit');
      const down = await waitFor(async () => {
        const r = await get(health!.port, '/healthz');
        return r.status === 503 ? r : undefined;
      }, { what: '/healthz to report Redis down' });
      expect(down.json().checks.redis?.ok).toBe(false);
      expect(down.json().checks.redis?.error).toMatch(/Redis/);
      // Metrics still answer while Redis is down (the queue gauges are simply empty).
      expect((await get(health!.port, '/metrics')).status).toBe(200);
      redis = await startRedis(port);
      const back = await waitFor(async () => {
        const r = await get(health!.port, '/healthz');
        return r.status === 200 ? r : undefined;
      }, { what: '/healthz to recover with Redis', timeoutMs: 60_000 });
      expect(back.json()).toEqual({ ok: true, checks: { redis: { ok: true } } });
    } finally {
      await health?.close();
      await core.close();
    }
  }, 120_000);

  it('a worker process without a reachable Redis is unhealthy from the start', async () => {
    const port = await freePort();
    const config = buildConfig({ stack: { project: `cdbt${randomSuffix()}` }, health: { workerPort: 0 } }, { REDIS_URL: `redis://127.0.0.1:${port}` });
    const connection = connectRedis(config);
    const health = await startWorkerHealth(config, { connection, docker: new Docker() }, log);
    try {
      const r = await get(health!.port, '/healthz');
      expect(r.status).toBe(503);
      expect(r.json().checks.redis?.ok).toBe(false);
      expect(r.json().checks.docker).toEqual({ ok: true });
    } finally {
      await health?.close();
      connection.disconnect();
    }
  });
});
