// A real worker process (`node --import tsx src/main/worker.ts`) for crash tests: it can be killed
// with SIGKILL or stopped with SIGTERM like a supervisor would, and paused at a named step through
// the test-only pause points of src/worker/pause-point.ts.
//
//   const w = spawnWorker(configPath, { pauseAt: ['stop:before'], pauseDir });
//   await w.started; await waitForPause(pauseDir, 'stop:before'); w.kill('SIGKILL'); await w.exited;
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { waitFor } from './compose-stack.ts';
import { REDIS_URL } from './harness.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface WorkerChild {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves once the worker logged "worker started". */
  readonly started: Promise<void>;
  /** The exit code (null after a signal). */
  readonly exited: Promise<number | null>;
  output(): string;
  kill(signal: NodeJS.Signals): void;
}

export interface SpawnWorkerOptions {
  readonly pauseAt?: readonly string[];
  readonly pauseDir?: string;
  readonly logLevel?: string;
  /** More environment (CDB_TARGET, CDB_TEST_ROTATION_PAUSE…); never Slack credentials. */
  readonly env?: Readonly<Record<string, string>>;
}

/** The one place tests start a worker process (node itself, never `npx tsx`, whose child outlives a kill). */
export function spawnWorker(configPath: string, opts: SpawnWorkerOptions = {}): WorkerChild {
  // Only what a worker needs: it refuses to start with any Slack credential in its environment.
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    CDB_CONFIG: configPath,
    REDIS_URL,
    LOG_LEVEL: opts.logLevel ?? 'info',
    // Several workers run at once (and the suite runs files in parallel): no fixed health port.
    HEALTH_PORT: '0',
    ...(opts.pauseAt?.length && opts.pauseDir ? { CDB_TEST_PAUSE_AT: opts.pauseAt.join(','), CDB_TEST_PAUSE_DIR: opts.pauseDir } : {}),
    ...opts.env,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/worker.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const ready = waitFor(() => out.includes('"worker started"'), { what: 'the worker to start', timeoutMs: 60_000, intervalMs: 50 }).then(() => undefined);
  // An early exit fails `started` at once, with what the worker said.
  const died = exited.then((code) => {
    if (!out.includes('"worker started"')) throw new Error(`the worker exited (${code}) before starting:\n${out.slice(-2000)}`);
    return new Promise<void>(() => undefined);
  });
  const started = Promise.race([ready, died]);
  started.catch(() => undefined);
  return {
    pid: child.pid ?? -1,
    child,
    started,
    exited,
    output: () => out,
    kill: (signal) => void child.kill(signal),
  };
}

/** Waits until a worker reached the named pause point (it then waits for `releasePause`). */
export async function waitForPause(dir: string, point: string, timeoutMs = 120_000): Promise<void> {
  const file = join(dir, `${point.replace(/[^a-z0-9-]/gi, '_')}.reached`);
  await waitFor(() => existsSync(file), { what: `the worker to reach ${point}`, timeoutMs, intervalMs: 25 });
}

export function releasePause(dir: string, point: string): void {
  writeFileSync(join(dir, `${point.replace(/[^a-z0-9-]/gi, '_')}.go`), '');
}
