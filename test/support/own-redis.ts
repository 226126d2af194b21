// A redis-server of the test's own, on a random loopback port, that the test may stop and start again
// (the shared Redis on 6379 is never touched). Without persistence by default: a restart loses all data,
// as with a Redis that keeps nothing on disk.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.ts';
import { waitFor } from './compose-stack.ts';

export interface OwnRedis {
  readonly port: number;
  readonly url: string;
  /** Stops the server (SIGTERM, as a supervisor would) and waits until it has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port and waits until it answers PING. */
  start(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startOwnRedis(opts: { persistence?: 'none' | 'aof' } = {}): Promise<OwnRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'cdbt-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const persistence = opts.persistence === 'aof' ? ['--appendonly', 'yes', '--save', ''] : ['--appendonly', 'no', '--save', ''];
  let child: ChildProcess | undefined;
  let output = '';

  const start = async (): Promise<void> => {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...persistence], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000); });
    proc.stderr?.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-4000); });
    proc.on('error', (err) => { output += `\nspawn failed: ${err.message} (is redis-server installed? scripts/ensure-services.sh installs it)`; });
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await waitFor(async () => {
        if (proc.exitCode !== null) throw new Error(`redis-server exited: ${output}`);
        await probe.connect().catch(() => undefined);
        return (await probe.ping().catch(() => '')) === 'PONG';
      }, { what: `redis-server on port ${port} to answer`, timeoutMs: 30_000 });
    } finally {
      probe.disconnect();
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    await exited;
  };

  await start();
  return {
    port, url, start, stop,
    async restart() {
      await stop();
      await start();
    },
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
