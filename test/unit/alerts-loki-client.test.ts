import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LokiClient, LokiError } from '../../src/features/alerts/loki-client.ts';
import { errorCountQuery } from '../../src/features/alerts/logql.ts';
import { startLokiStandin, type LokiStandin } from '../support/loki-standin.ts';

// Bodies exactly as a real Loki 2.7.5 sent them (../shared/loki-samples), stats trimmed to one field.
const REAL_VECTOR = '{"status":"success","data":{"resultType":"vector","result":[{"metric":{"container_name":"cdb_core"},"value":[1795477496,"2"]}],"stats":{"summary":{"execTime":0.05289428}}}}';
const REAL_STREAMS = '{"status":"success","data":{"resultType":"streams","result":[{"stream":{"container_name":"cdb_core"},"values":[["1795465555868646029","level=error msg=\\"old replayed error line\\""],["1795476235868646029","level=info msg=\\"cdb_core starting\\""],["1795476325868646029","level=error msg=\\"timeout while writing block\\" password=hunter2"]]}],"stats":{"summary":{"execTime":0.246118935}}}}';

describe('Loki client against real response bodies', () => {
  let server: Server;
  let url = '';
  const seen: { path: string; body: string }[] = [];
  let mode: 'ok' | 'garbage' | 'hang' | '500' = 'ok';
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => {
        seen.push({ path: req.url ?? '', body });
        if (mode === 'hang') return;
        if (mode === '500') { res.writeHead(500, { 'content-type': 'text/plain' }); res.end('rpc error: code = Unavailable desc = token=abc123secret\nmore'); return; }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(mode === 'garbage' ? '<html>proxy error</html>' : req.url?.includes('query_range') ? REAL_STREAMS : REAL_VECTOR);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('parses an instant vector and posts the query as a form', async () => {
    mode = 'ok';
    const c = new LokiClient({ url, timeoutMs: 2000 });
    expect(await c.instant('sum(x)', 1_795_477_496_000)).toEqual([{ labels: { container_name: 'cdb_core' }, value: 2 }]);
    const req = seen.at(-1)!;
    expect(req.path).toBe('/loki/api/v1/query');
    expect(Object.fromEntries(new URLSearchParams(req.body))).toEqual({ query: 'sum(x)', time: '1795477496000000000' });
    expect(c.queries).toBe(1);
  });

  it('returns log lines newest first whatever order the streams came in', async () => {
    mode = 'ok';
    const c = new LokiClient({ url, timeoutMs: 2000 });
    const lines = await c.range('{a="b"}', { startMs: 0, endMs: 1, limit: 10 });
    expect(lines.map((l) => l.ns)).toEqual(['1795476325868646029', '1795476235868646029', '1795465555868646029']);
    expect(lines[0]!.labels).toEqual({ container_name: 'cdb_core' });
  });

  it('turns HTTP errors, garbage and hangs into LokiErrors (secrets in error bodies masked)', async () => {
    const c = new LokiClient({ url, timeoutMs: 300 });
    mode = '500';
    const e500 = await c.instant('x').catch((e: unknown) => e);
    expect(e500).toBeInstanceOf(LokiError);
    expect((e500 as LokiError).kind).toBe('http');
    expect((e500 as LokiError).message).toContain('HTTP 500');
    expect((e500 as LokiError).message).not.toContain('abc123secret');
    mode = 'garbage';
    expect(await c.instant('x').catch((e: LokiError) => e.kind)).toBe('bad-response');
    mode = 'hang';
    expect(await c.instant('x').catch((e: LokiError) => e.kind)).toBe('timeout');
    const down = new LokiClient({ url: 'http://127.0.0.1:1', timeoutMs: 1000 });
    expect(await down.instant('x').catch((e: LokiError) => e.kind)).toBe('unreachable');
  });
});

describe('Loki client against the stand-in', () => {
  let loki: LokiStandin;
  beforeAll(async () => { loki = await startLokiStandin(); });
  afterAll(async () => { await loki.close(); });

  it('counts errors per container with one query for any number of containers', async () => {
    for (let i = 0; i < 50; i++) loki.push(`cdb_svc${i}`, 'level=error msg=boom');
    for (let i = 0; i < 3; i++) loki.push('cdb_core', `Exception number ${i}`);
    loki.push('cdb_core', 'level=info all good');
    loki.push('other_core', 'error but not ours');
    const c = new LokiClient({ url: loki.url, timeoutMs: 2000 });
    const q = errorCountQuery({ project: 'cdb', containerLabel: 'container_name', errorPattern: '(?i)(error|fatal|panic|exception)', errorWindow: '5m' });
    const samples = await c.instant(q);
    expect(c.queries).toBe(1);
    expect(loki.queries).toHaveLength(1);
    expect(samples).toHaveLength(51);
    expect(samples.find((s) => s.labels.container_name === 'cdb_core')?.value).toBe(3);
    expect(samples.some((s) => s.labels.container_name === 'other_core')).toBe(false);
  });

  it('reports 503 and refused connections as errors, and ready() follows /ready', async () => {
    const c = new LokiClient({ url: loki.url, timeoutMs: 2000 });
    expect(await c.ready()).toBe(true);
    await loki.setFailure('503');
    expect(await c.instant('sum(x)').catch((e: LokiError) => e.status)).toBe(503);
    await loki.setFailure('refuse');
    expect(await c.instant('sum(x)').catch((e: LokiError) => e.kind)).toBe('unreachable');
    expect(await c.ready()).toBe(false);
    await loki.setFailure(null);
    expect(await c.ready()).toBe(true);
  });
});
