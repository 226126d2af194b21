import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { HEARTBEAT_MS, writeBeat, type TargetSummary, type WorkerBeat } from '../shared/heartbeat.ts';

function version(): string {
  // src/worker/ under tsx, dist/src/worker/ when compiled (`npm run build`): package.json is 2 or 3 levels up.
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version?: string }).version ?? '?';
    } catch {
      // try the next location
    }
  }
  return '?';
}

export interface HeartbeatTarget {
  readonly name: string;
  readonly project: string;
  readonly docker: Docker;
}

/** Containers of the target's compose project: running, total, unhealthy (one Engine API call). */
async function summarize(t: HeartbeatTarget): Promise<TargetSummary> {
  try {
    const list = await t.docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${t.project}`] } });
    return { project: t.project, running: list.filter((c) => c.State === 'running').length, total: list.length, unhealthy: list.filter((c) => /\(unhealthy\)/.test(c.Status)).length };
  } catch (err) {
    return { project: t.project, running: 0, total: 0, unhealthy: 0, error: (err as Error).message.slice(0, 160) };
  }
}

/**
 * Tells Redis every 5 s that this worker is alive, which targets it serves and how their stacks
 * look. The bot refuses commands for a target whose workers stopped beating and tells the alerts
 * channel when they disappear and come back.
 */
export function startHeartbeat(opts: { redis: Redis; prefix: string; targets: readonly HeartbeatTarget[]; concurrency: number; log: Logger; intervalMs?: number }): { close(): Promise<void> } {
  const id = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  const startedAt = Date.now();
  const base = { id, host: hostname(), pid: process.pid, version: version(), targets: opts.targets.map((t) => t.name), concurrency: opts.concurrency, startedAt };
  let busy: Promise<void> | undefined;
  let failing = false;
  // Summaries are refreshed on their own: a slow or hung Docker engine must never stop the beats
  // (the worker is alive; the summary says the engine is not answering).
  const summaries: Record<string, TargetSummary> = {};
  const pending = new Map<string, number>();
  const refresh = (): void => {
    for (const t of opts.targets) {
      const since = pending.get(t.name);
      if (since !== undefined) {
        if (Date.now() - since > 10_000) summaries[t.name] = { project: t.project, running: 0, total: 0, unhealthy: 0, error: 'the Docker engine has not answered for 10 s' };
        continue;
      }
      pending.set(t.name, Date.now());
      void summarize(t).then((s) => {
        summaries[t.name] = s;
        pending.delete(t.name);
      });
    }
  };
  const beat = (): void => {
    refresh();
    if (busy) return;
    busy = (async () => {
      // Redis's clock, not this host's: the bot compares against the same clock.
      const [sec, usec] = await opts.redis.time();
      const b: WorkerBeat = { ...base, lastSeen: Number(sec) * 1000 + Math.floor(Number(usec) / 1000), summaries: { ...summaries } };
      await writeBeat(opts.redis, opts.prefix, b);
      failing = false;
    })()
      .catch((err: unknown) => {
        if (!failing) opts.log.warn({ err }, 'heartbeat not written');
        failing = true;
      })
      .finally(() => (busy = undefined));
  };
  beat();
  const timer = setInterval(beat, opts.intervalMs ?? HEARTBEAT_MS);
  return {
    async close() {
      clearInterval(timer);
      await busy;
    },
  };
}
