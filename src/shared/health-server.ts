import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { sharedMetrics } from './metrics.ts';

/** A dependency the process cannot work without; it throws (or times out) when that part is down. */
export type HealthCheck = () => Promise<void>;

export interface HealthServerOptions {
  readonly host: string;
  /** 0 picks a free port (tests); the bound one is in `port` of the result. */
  readonly port: number;
  /** e.g. { redis, docker }: /healthz is 200 only when every one passes. */
  readonly checks: Readonly<Record<string, HealthCheck>>;
  /** Per-process gauges (queue depth, open incidents), served with the shared counters. */
  readonly registry?: Registry;
  readonly timeoutMs?: number;
  readonly log: Pick<Logger, 'info' | 'warn'>;
}

export interface HealthServer {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

export interface HealthReport {
  readonly ok: boolean;
  readonly checks: Record<string, { ok: true } | { ok: false; error: string }>;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export async function runChecks(checks: Readonly<Record<string, HealthCheck>>, timeoutMs: number): Promise<HealthReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await withTimeout(check(), timeoutMs, name);
        return [name, { ok: true as const }] as const;
      } catch (err) {
        return [name, { ok: false as const, error: err instanceof Error ? err.message : String(err) }] as const;
      }
    }),
  );
  const report = Object.fromEntries(entries);
  return { ok: entries.every(([, r]) => r.ok), checks: report };
}

/**
 * GET /healthz (200 or 503 with a JSON body naming the failed part) and GET /metrics (Prometheus text).
 * Bound to 127.0.0.1 by default: the compose healthcheck runs inside the container, and a scraper
 * on another host is an explicit choice (health.host).
 */
export async function startHealthServer(o: HealthServerOptions): Promise<HealthServer> {
  const timeoutMs = o.timeoutMs ?? 3000;
  const own = o.registry ?? new Registry();
  const up = new Gauge({ name: 'cdb_health_check_up', help: '1 when the named dependency answered the last /healthz or scrape, else 0.', labelNames: ['check'] as const, registers: [own] });
  const metrics = Registry.merge([sharedMetrics, own]);

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      void runChecks(o.checks, timeoutMs).then((report) => {
        for (const [name, r] of Object.entries(report.checks)) up.set({ check: name }, r.ok ? 1 : 0);
        res.writeHead(report.ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(`${JSON.stringify(report)}\n`);
      });
      return;
    }
    if (path === '/metrics') {
      void metrics.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${err instanceof Error ? err.message : String(err)}\n`),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz or /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  o.log.info({ host: o.host, port }, 'health and metrics listening');
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
