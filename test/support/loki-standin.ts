// Local stand-in for Grafana Loki's HTTP API (shapes copied from real Loki 2.7.5 answers in /work/shared/loki-samples).
// It evaluates the LogQL subset that ./logql.ts parses, over the lines tests push.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { ParseError, Unsupported, matches, parseDurationNs, parseLogQL, type Labels, type LogExpr, type MetricExpr } from './logql.ts';

interface Entry { labels: Labels; key: string; ns: bigint; line: string; seq: number }
export interface LokiQuery { endpoint: 'query' | 'query_range'; query: string; params: Record<string, string>; at: number }
export type LokiFailure = 'refuse' | '503' | null;
export interface LokiStandin {
  url: string; port: number;
  queries: LokiQuery[];
  requests: Array<{ method: string; path: string; at: number }>;
  /** Adds a line to stream {container_name=<name>} (or the given label set) at atMs (default now). Returns the ns timestamp. */
  push(container: string | Labels, line: string, atMs?: number): string;
  setReady(ready: boolean): void;
  /** 'refuse' closes the listening socket (ECONNREFUSED), '503' answers every request with 503 `Loki is down`. */
  setFailure(mode: LokiFailure): Promise<void>;
  setDown(down: boolean): Promise<void>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

class BadRequest extends Error {}

function passes(log: LogExpr, e: Entry): boolean {
  return log.matchers.every((m) => matches(m, e.labels[m.name] ?? ''))
    && log.filters.every((f) => {
      const hit = f.re ? f.re.test(e.line) : e.line.includes(f.value);
      return f.op === '|=' || f.op === '|~' ? hit : !hit;
    });
}
const labelKey = (l: Labels): string => `{${Object.keys(l).sort().map((k) => `${k}=${JSON.stringify(l[k])}`).join(', ')}}`;
/** Prometheus labels.Compare: pairwise by name then value; a prefix sorts first. */
function compareLabels(a: Labels, b: Labels): number {
  const pa = Object.entries(a).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  const pb = Object.entries(b).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const [[an, av], [bn, bv]] = [pa[i] ?? ['', ''], pb[i] ?? ['', '']];
    if (an !== bn) return an < bn ? -1 : 1;
    if (av !== bv) return av < bv ? -1 : 1;
  }
  return pa.length - pb.length;
}
const fmtValue = (v: number): string => (Number.isInteger(v) || !/e/.test(String(v)) ? String(v) : v.toFixed(20).replace(/0+$/, ''));
const logOf = (e: MetricExpr): LogExpr => (e.kind === 'range' ? e.log : logOf(e.inner));
const maxRange = (e: MetricExpr): bigint => (e.kind === 'range' ? e.rangeNs : maxRange(e.inner));

type Series = Map<string, { labels: Labels; value: number }>;
function evalAt(e: MetricExpr, t: bigint, pool: Entry[]): Series {
  const out: Series = new Map();
  if (e.kind === 'range') {
    const secs = Number(e.rangeNs) / 1e9;
    for (const x of pool) {
      if (x.ns <= t - e.rangeNs || x.ns > t) continue;
      const cur = out.get(x.key) ?? { labels: x.labels, value: 0 };
      cur.value += e.fn.startsWith('bytes') ? Buffer.byteLength(x.line) : 1;
      out.set(x.key, cur);
    }
    if (e.fn === 'rate' || e.fn === 'bytes_rate') for (const s of out.values()) s.value /= secs;
    return out;
  }
  const groups = new Map<string, { labels: Labels; values: number[] }>();
  for (const s of evalAt(e.inner, t, pool).values()) {
    const labels: Labels = {};
    for (const [k, v] of Object.entries(s.labels)) if (e.by ? e.by.includes(k) : e.without ? !e.without.includes(k) : false) labels[k] = v;
    const g = groups.get(labelKey(labels)) ?? { labels, values: [] };
    g.values.push(s.value);
    groups.set(labelKey(labels), g);
  }
  const reduce: Record<string, (v: number[]) => number> = {
    sum: (v) => v.reduce((a, b) => a + b, 0), count: (v) => v.length, min: (v) => Math.min(...v),
    max: (v) => Math.max(...v), avg: (v) => v.reduce((a, b) => a + b, 0) / v.length,
  };
  for (const [k, g] of groups) out.set(k, { labels: g.labels, value: (reduce[e.op] ?? reduce.sum!)(g.values) });
  return out;
}

function stats(lines: number, bytes: number, returned: number): Record<string, unknown> {
  const execTime = 0.001;
  const chunk = (head: boolean): Record<string, number> => ({ headChunkBytes: head ? bytes : 0, headChunkLines: head ? lines : 0, decompressedBytes: 0, decompressedLines: 0, compressedBytes: 0, totalDuplicates: 0 });
  const store = (head: boolean): Record<string, unknown> => ({ totalChunksRef: 0, totalChunksDownloaded: 0, chunksDownloadTime: 0, chunk: chunk(head) });
  const cache = { entriesFound: 0, entriesRequested: 0, entriesStored: 0, bytesReceived: 0, bytesSent: 0, requests: 0 };
  return {
    summary: { bytesProcessedPerSecond: Math.round(bytes / execTime), linesProcessedPerSecond: Math.round(lines / execTime), totalBytesProcessed: bytes, totalLinesProcessed: lines, execTime, queueTime: 0.0001, subqueries: 1, totalEntriesReturned: returned },
    querier: { store: store(false) },
    ingester: { totalReached: 1, totalChunksMatched: lines ? 1 : 0, totalBatches: lines ? 1 : 0, totalLinesSent: returned, store: store(true) },
    cache: { chunk: { ...cache }, index: { ...cache }, result: { ...cache } },
  };
}

/** Loki's timestamp parsing: float seconds if it has a '.', ≤10 digits = seconds, else ns; or RFC3339(Nano). */
function parseTime(v: string | null, def: bigint, param: string): bigint {
  if (v === null || v === '') return def;
  if (v.includes('.') && Number.isFinite(Number(v))) return BigInt(Math.round(Number(v) * 1000)) * 1_000_000n;
  if (/^-?\d+$/.test(v)) return v.length <= 10 ? BigInt(v) * 1_000_000_000n : BigInt(v);
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(v);
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
  if (!m || Number.isNaN(ms)) throw new BadRequest(`invalid parameter "${param}": cannot parse "${v}" to a valid timestamp`);
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

export async function startLokiStandin(): Promise<LokiStandin> {
  let entries: Entry[] = [];
  let seq = 0;
  let lastAuto = 0n;
  let ready = true;
  let failure: LokiFailure = null;
  const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

  const add = (labels: Labels, ns: bigint, line: string): void => {
    const key = labelKey(labels);
    if (entries.some((e) => e.key === key && e.ns === ns && e.line === line)) return; // Loki drops exact duplicates
    entries.push({ labels: { ...labels }, key, ns, line, seq: seq++ });
  };

  function query(p: URLSearchParams, endpoint: 'query' | 'query_range'): unknown {
    const expr = parseLogQL(p.get('query') ?? '');
    const limit = Number(p.get('limit') ?? '100');
    if (!Number.isInteger(limit) || limit < 0) throw new BadRequest(`invalid parameter "limit": ${p.get('limit')}`);
    if (limit > 5000) throw new BadRequest(`max entries limit per query exceeded, limit > max_entries_limit (${limit} > 5000)`);
    const dir = (p.get('direction') ?? 'backward').toLowerCase();
    if (dir !== 'backward' && dir !== 'forward') throw new BadRequest(`invalid direction "${p.get('direction')}"`);
    if (expr.kind === 'log') {
      if (endpoint === 'query') throw new BadRequest('log queries are not supported as an instant query type, please change your query to a range query type');
      const end = parseTime(p.get('end'), nowNs(), 'end');
      const start = parseTime(p.get('start'), end - 3_600_000_000_000n, 'start');
      if (end < start) throw new BadRequest('end timestamp must not be before or equal to start time');
      const scanned = entries.filter((e) => e.ns >= start && e.ns < end && expr.matchers.every((m) => matches(m, e.labels[m.name] ?? '')));
      const hits = scanned.filter((e) => passes(expr, e))
        .sort((a, b) => (a.ns === b.ns ? a.seq - b.seq : a.ns < b.ns ? -1 : 1) * (dir === 'backward' ? -1 : 1)).slice(0, limit);
      const streams = new Map<string, { stream: Labels; values: Array<[string, string]> }>();
      for (const e of hits) {
        const s = streams.get(e.key) ?? { stream: e.labels, values: [] };
        s.values.push([e.ns.toString(), e.line]);
        streams.set(e.key, s);
      }
      const result = [...streams.values()].sort((a, b) => compareLabels(a.stream, b.stream));
      return { resultType: 'streams', result, stats: stats(scanned.length, scanned.reduce((n, e) => n + Buffer.byteLength(e.line), 0), hits.length) };
    }
    const log = logOf(expr);
    const evalPoints: bigint[] = [];
    if (endpoint === 'query') {
      evalPoints.push(parseTime(p.get('time'), nowNs(), 'time'));
    } else {
      const end = parseTime(p.get('end'), nowNs(), 'end');
      const start = parseTime(p.get('start'), end - 3_600_000_000_000n, 'start');
      if (end < start) throw new BadRequest('end timestamp must not be before or equal to start time');
      const raw = p.get('step');
      const step = raw === null || raw === '' ? BigInt(Math.max(Math.floor(Number(end - start) / 1e9 / 250), 1)) * 1_000_000_000n
        : Number.isFinite(Number(raw)) ? BigInt(Math.round(Number(raw) * 1000)) * 1_000_000n : parseDurationNs(raw) ?? -1n;
      if (step <= 0n) throw new BadRequest('zero or negative query resolution step widths are not accepted. Try a positive integer');
      if ((end - start) / step > 11000n) throw new BadRequest('exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)');
      for (let t = start; t <= end; t += step) evalPoints.push(t);
    }
    const lo = (evalPoints[0] ?? 0n) - maxRange(expr);
    const hi = evalPoints[evalPoints.length - 1] ?? 0n;
    const scanned = entries.filter((e) => e.ns > lo && e.ns <= hi && log.matchers.every((m) => matches(m, e.labels[m.name] ?? '')));
    const pool = scanned.filter((e) => passes(log, e));
    const series = new Map<string, { metric: Labels; values: Array<[number, string]> }>();
    for (const t of evalPoints) {
      for (const [key, s] of evalAt(expr, t, pool)) {
        const cur = series.get(key) ?? { metric: s.labels, values: [] };
        cur.values.push([Number(t / 1_000_000n) / 1000, fmtValue(s.value)]);
        series.set(key, cur);
      }
    }
    const sorted = [...series.values()].sort((a, b) => compareLabels(a.metric, b.metric));
    const st = stats(scanned.length, scanned.reduce((n, e) => n + Buffer.byteLength(e.line), 0), sorted.length);
    if (endpoint === 'query') return { resultType: 'vector', result: sorted.map((s) => ({ metric: s.metric, value: s.values[0] })), stats: st };
    return { resultType: 'matrix', result: sorted, stats: st };
  }

  function labelValues(p: URLSearchParams, name: string | undefined): string[] {
    const end = parseTime(p.get('end'), nowNs(), 'end');
    const start = parseTime(p.get('start'), end - 6n * 3_600_000_000_000n, 'start');
    const q = p.get('query');
    const sel = q ? parseLogQL(q) : undefined;
    const inRange = entries.filter((e) => e.ns >= start && e.ns < end && (!sel || sel.kind !== 'log' || passes(sel, e)));
    const values = inRange.flatMap((e) => (name === undefined ? Object.keys(e.labels) : e.labels[name] !== undefined ? [e.labels[name]] : []));
    return [...new Set(values)].sort();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://loki');
    const path = url.pathname;
    standin.requests.push({ method: req.method ?? 'GET', path, at: Date.now() });
    const text = (status: number, body: string): void => { res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }); res.end(body); };
    const json = (body: unknown): void => { res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' }); res.end(JSON.stringify(body)); };
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(String(c)));
    const params = req.method === 'POST' && !path.endsWith('/push') ? new URLSearchParams(Buffer.concat(chunks).toString('utf8')) : url.searchParams;
    const endpoint = path === '/loki/api/v1/query' ? 'query' : path === '/loki/api/v1/query_range' ? 'query_range' : undefined;
    if (endpoint) standin.queries.push({ endpoint, query: params.get('query') ?? '', params: Object.fromEntries(params), at: Date.now() });
    if (failure === '503') return text(503, 'Loki is down');
    if (path === '/ready') return ready ? text(200, 'ready\n') : text(503, 'Ingester not ready: waiting for 15s after being ready\n');
    if (path === '/loki/api/v1/status/buildinfo') return json({ version: '2.7.5', revision: 'fd33f6a18', branch: 'HEAD', buildUser: 'root@local', buildDate: '2026-11-23T23:19:58Z', goVersion: '' });
    if (path === '/loki/api/v1/push' && req.method === 'POST') {
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return text(415, 'loki-standin: only JSON push bodies are supported\n');
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      let body: unknown;
      try { body = JSON.parse(raw.toString('utf8')); } catch (e) { return text(400, `${e instanceof Error ? e.message : String(e)}\n`); }
      const streams = typeof body === 'object' && body !== null && 'streams' in body && Array.isArray(body.streams) ? (body.streams as unknown[]) : [];
      for (const s of streams) {
        if (typeof s !== 'object' || s === null || !('stream' in s) || !('values' in s) || !Array.isArray(s.values)) continue;
        const labels = Object.fromEntries(Object.entries(s.stream ?? {}).map(([k, v]) => [k, String(v)]));
        if (!Object.keys(labels).length) return text(400, 'error at least one label pair is required per stream\n');
        for (const v of s.values as unknown[]) if (Array.isArray(v) && typeof v[0] === 'string' && typeof v[1] === 'string') add(labels, BigInt(v[0]), v[1]);
      }
      res.writeHead(204); res.end(); return;
    }
    if (req.method !== 'GET' && req.method !== 'POST') return text(405, 'Method Not Allowed\n');
    try {
      if (endpoint) return json({ status: 'success', data: query(params, endpoint) });
      if (path === '/loki/api/v1/labels') return json({ status: 'success', data: labelValues(params, undefined) });
      const lv = /^\/loki\/api\/v1\/label\/([^/]+)\/values$/.exec(path);
      if (lv?.[1]) return json({ status: 'success', data: labelValues(params, decodeURIComponent(lv[1])) });
      return text(404, '404 page not found\n');
    } catch (e) {
      if (e instanceof ParseError || e instanceof BadRequest) return text(400, `${e.message}\n`);
      if (e instanceof Unsupported) return text(501, `loki-standin: unsupported LogQL feature ${e.message}\n`);
      throw e;
    }
  }

  const server = createServer((req, res) => { handle(req, res).catch((e: unknown) => { if (!res.headersSent) { res.writeHead(500); res.end(String(e)); } }); });
  const listen = (port: number): Promise<void> => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const stop = (): Promise<void> => new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
  await listen(0);
  const port = (server.address() as AddressInfo).port;

  const standin: LokiStandin = {
    url: `http://127.0.0.1:${port}`, port, queries: [], requests: [],
    push: (container, line, atMs) => {
      // Default: 1ms before now (so a query ending "now" sees it), strictly increasing across pushes.
      const ns = atMs === undefined ? (lastAuto = [nowNs() - 1_000_000n, lastAuto + 1n].reduce((a, b) => (a > b ? a : b)))
        : BigInt(Math.round(atMs * 1000)) * 1000n;
      add(typeof container === 'string' ? { container_name: container } : container, ns, line);
      return ns.toString();
    },
    setReady: (r) => { ready = r; },
    setFailure: async (mode) => {
      const was = failure;
      failure = mode;
      if (mode === 'refuse' && was !== 'refuse') {
        await stop();
        // Let in-process clients see their pooled sockets close, so the next request gets ECONNREFUSED.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      if (mode !== 'refuse' && was === 'refuse') await listen(port);
    },
    setDown: (down) => standin.setFailure(down ? 'refuse' : null),
    reset: async () => {
      entries = []; seq = 0; lastAuto = 0n; ready = true;
      standin.queries.length = 0; standin.requests.length = 0;
      await standin.setFailure(null);
    },
    close: async () => { failure = 'refuse'; await stop(); },
  };
  return standin;
}
