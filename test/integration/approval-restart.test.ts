import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/compose-stack.ts';
import { BOB, runs, startRig, type Rig } from './approval-harness.ts';
import { freePort } from '../support/free-port.ts';


/** A real redis-server of our own, with AOF, that the test can shut down and start again on the same data. */
class OwnRedis {
  private proc?: ChildProcess;
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: 'ignore' });
    proc.on('error', () => undefined);
    this.proc = proc;
    const spawned = await new Promise<boolean>((resolve) => {
      proc.once('spawn', () => resolve(true));
      proc.once('error', () => resolve(false));
    });
    if (!spawned) throw new Error('redis-server is not installed or not on PATH: it is needed for the Redis restart test (apt-get install redis-server)');
    await waitFor(async () => {
      const probe = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } finally {
        probe.disconnect();
      }
    }, { what: `redis-server on port ${this.port}`, timeoutMs: 30_000 });
  }

  /** SHUTDOWN, as an orderly restart would; the data must come back from the AOF alone (no RDB snapshot). */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    const admin = new Redis(this.url, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
    await admin.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
    admin.disconnect();
    await exited;
  }
}

describe('approval requests survive restarts', () => {
  const cleanup: (() => Promise<unknown>)[] = [];

  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  });

  it('keeps pending requests across a Redis restart (AOF) and still expires them on time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdbt-redis-aof-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const server = new OwnRedis(await freePort(), dir);
    await server.start();
    cleanup.push(() => server.stop());
    // zapfast expires after 20 s: long enough to restart Redis before, short enough to watch.
    const rig: Rig = await startRig({ redisUrl: server.url, fastMinutes: 1 / 3 });
    cleanup.push(() => rig.close());

    const slow = await rig.request('zap web');
    const fast = await rig.request('zapfast web');
    const before = await rig.record(fast);

    await server.stop();
    expect((await readdir(dir)).join(' ')).toMatch(/appendonly/);
    await server.start();

    // Both requests are back, still pending, with the same expiry; the bot and worker reconnect by themselves.
    await waitFor(async () => (await rig.store.get(slow))?.state === 'pending', { what: 'the slow request after the restart' });
    const after = await rig.record(fast);
    expect(after.expiresAt).toBe(before.expiresAt);
    expect(['pending', 'expired']).toContain(after.state);
    expect(await rig.redis.zscore(rig.store.pendingKey, slow)).not.toBeNull();

    // The fast one expires by its deadline, and its message says so.
    const expired = await rig.waitForState(fast, 'expired');
    expect(expired.reason).toMatch(/nobody approved in time/);
    await waitFor(() => JSON.stringify(rig.slack.messages.get(`${expired.channel}:${expired.messageTs}`)?.blocks ?? '').includes('Expired'), { what: 'the expired message' });
    expect(await rig.queue.getJob(fast)).toBeUndefined();

    // The slow one can still be approved after the restart, and runs once.
    await rig.click('approve', slow, BOB);
    await rig.waitForState(slow, 'executed');
    expect(runs.get(slow)).toBe(1);
  });

  it('keeps pending requests across a bot restart: approve works and runs once; overdue ones expire at start', async () => {
    const rig = await startRig();
    cleanup.push(() => rig.close());
    const kept = await rig.request('zap api');
    const overdue = await rig.request('zapfast api');
    await rig.stopBot();
    // No bot at all while `overdue` passes its deadline: nobody can expire it yet.
    const deadline = (await rig.record(overdue)).expiresAt;
    await waitFor(async () => (await rig.store.now()) > deadline, { what: 'the deadline to pass' });
    expect((await rig.record(overdue)).state).toBe('pending');

    await rig.startBot();
    await rig.waitForState(overdue, 'expired');
    const responses = await Promise.all([rig.click('approve', kept, BOB), rig.click('approve', kept, BOB)]);
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    await rig.waitForState(kept, 'executed');
    expect(runs.get(kept)).toBe(1);
    const approvals = (await rig.auditFor(kept)).filter((e) => e.outcome === 'approved');
    expect(approvals).toHaveLength(1);
  });
});
