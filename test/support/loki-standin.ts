// Local stand-in for Grafana Loki's HTTP API (shapes copied from real Loki 2.7.5 answers in /work/shared/loki-samples).
// Implements the LogQL subset the bot uses: selectors (= != =~ !~), line filters (|= != |~ !~), range functions
// count_over_time/rate/bytes_over_time/bytes_rate and sum/count/min/max/avg [by|without (...)] aggregations.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

type Labels = Record<string, string>;
interface Entry { labels: Labels; key: string; ns: bigint; line: string; seq: number }
interface Matcher { name: string; op: string; value: string; re?: RegExp }
interface LineFilter { op: string; value: string; re?: RegExp }
interface LogExpr { kind: 'log'; matchers: Matcher[]; filters: LineFilter[] }
interface RangeExpr { kind: 'range'; fn: string; log: LogExpr; rangeNs: bigint }
interface AggExpr { kind: 'agg'; op: string; by?: string[]; without?: string[]; inner: MetricExpr }
type MetricExpr = RangeExpr | AggExpr;
export type LogQLExpr = LogExpr | MetricExpr;
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

class ParseError extends Error {
  constructor(msg: string, readonly col?: number) {
    super(col === undefined ? `parse error : ${msg}` : `parse error at line 1, col ${col}: ${msg}`);
  }
}
class BadRequest extends Error {}
class Unsupported extends Error {}

const AGG_OPS = new Set(['sum', 'count', 'min', 'max', 'avg']);
const RANGE_FNS = new Set(['count_over_time', 'rate', 'bytes_over_time', 'bytes_rate']);
const LOKI_ONLY = /^(stddev|stdvar|topk|bottomk|sort|sort_desc|\w+_over_time|rate_counter|label_replace|vector|json|logfmt|line_format|label_format|pattern|regexp|unpack|unwrap|decolorize|drop|keep|offset)$/;
const UNIT_NS: Record<string, bigint> = { ns: 1n, us: 1000n, µs: 1000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n, d: 86_400_000_000_000n, w: 604_800_000_000_000n, y: 31_536_000_000_000_000n };

export function parseDurationNs(src: string): bigint | undefined {
  const parts = [...src.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== src) return undefined;
  return parts.reduce((acc, p) => acc + BigInt(Math.round(Number(p[1]) * Number(UNIT_NS[p[2] ?? 's']))), 0n);
}

/** Go RE2 → JS RegExp: a leading (?flags) group becomes JS flags, (?P<n>..) becomes (?<n>..). */
function compileRegex(src: string, anchored: boolean): RegExp {
  const m = /^\(\?([imsU]+)\)/.exec(src);
  const flags = (m?.[1] ?? '').replace(/U/g, '');
  const body = (m ? src.slice(m[0].length) : src).replace(/\(\?P</g, '(?<');
  const pattern = anchored ? `^(?:${body})$` : body;
  try { return new RegExp(pattern, `${flags}u`); } catch { /* Go allows escapes that JS 'u' mode rejects */ }
  try { return new RegExp(pattern, flags); } catch (e) {
    throw new ParseError(`error parsing regexp: ${e instanceof Error ? e.message : String(e)}`);
  }
}

interface Tok { t: 'ident' | 'str' | 'op' | 'dur' | 'eof'; v: string; col: number }
function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src.charAt(i);
    const col = i + 1;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += c === '"' && src[j] === '\\' ? 2 : 1;
      if (j >= src.length) throw new ParseError('literal not terminated', col);
      const raw = src.slice(i + 1, j);
      let v = raw;
      if (c === '"') { try { v = String(JSON.parse(`"${raw}"`)); } catch { throw new ParseError('invalid char escape', col); } }
      out.push({ t: 'str', v, col }); i = j + 1; continue;
    }
    if (c === '[') {
      const j = src.indexOf(']', i);
      if (j < 0) throw new ParseError('syntax error: unexpected $end, expecting ]', col);
      out.push({ t: 'op', v: '[', col }, { t: 'dur', v: src.slice(i + 1, j).trim(), col: col + 1 }, { t: 'op', v: ']', col: j + 1 });
      i = j + 1; continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))?.[0];
    if (ident) { out.push({ t: 'ident', v: ident, col }); i += ident.length; continue; }
    const op = ['=~', '!~', '!=', '|=', '|~', '==', '>=', '<=', '=', '|', '{', '}', '(', ')', ',', '>', '<', '+', '-', '*', '/', '%', '^']
      .find((o) => src.startsWith(o, i)) ?? /^\d+(\.\d+)?/.exec(src.slice(i))?.[0];
    if (!op) throw new ParseError(`syntax error: unexpected character '${c}'`, col);
    out.push({ t: 'op', v: op, col }); i += op.length;
  }
  out.push({ t: 'eof', v: '', col: src.length + 1 });
  return out;
}

export function parseLogQL(src: string): LogQLExpr {
  const toks = lex(src);
  let pos = 0;
  const peek = (): Tok => toks[pos] ?? toks[toks.length - 1]!;
  const next = (): Tok => { const t = peek(); pos++; return t; };
  const name = (t: Tok): string => (t.t === 'eof' ? '$end' : t.t === 'ident' ? 'IDENTIFIER' : t.t === 'str' ? 'STRING' : /^\d/.test(t.v) ? 'NUMBER' : t.v);
  const unexpected = (t: Tok, expecting?: string): never => {
    if (t.t === 'ident' && LOKI_ONLY.test(t.v)) throw new Unsupported(`'${t.v}' at col ${t.col}`);
    if (t.t === 'op' && /^([|><+*/%^-]|==|>=|<=)$/.test(t.v)) throw new Unsupported(`'${t.v}' at col ${t.col}`);
    throw new ParseError(`syntax error: unexpected ${name(t)}${expecting ? `, expecting ${expecting}` : ''}`, t.col);
  };
  const expect = (v: string, kind: Tok['t'] = 'op'): Tok => {
    const t = next();
    return t.t === kind && (kind !== 'op' || t.v === v) ? t : unexpected(t, v);
  };
  const parseLog = (): LogExpr => {
    expect('{');
    const matchers: Matcher[] = [];
    do {
      const label = expect('IDENTIFIER', 'ident').v;
      const op = next();
      if (op.t !== 'op' || !['=', '!=', '=~', '!~'].includes(op.v)) unexpected(op, '= or != or =~ or !~');
      const value = expect('STRING', 'str').v;
      matchers.push({ name: label, op: op.v, value, ...(op.v.endsWith('~') ? { re: compileRegex(value, true) } : {}) });
    } while (peek().v === ',' && next());
    expect('}');
    if (matchers.every((m) => matches(m, ''))) {
      throw new ParseError('queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will');
    }
    const filters: LineFilter[] = [];
    while (peek().t === 'op' && ['|=', '!=', '|~', '!~'].includes(peek().v)) {
      const op = next().v;
      const value = expect('STRING', 'str').v;
      filters.push({ op, value, ...(op.endsWith('~') ? { re: compileRegex(value, false) } : {}) });
    }
    if (peek().v === '|') unexpected(toks[pos + 1] ?? peek());
    return { kind: 'log', matchers, filters };
  };
  const grouping = (): Pick<AggExpr, 'by' | 'without'> => {
    const kw = peek();
    if (kw.t !== 'ident' || (kw.v !== 'by' && kw.v !== 'without')) return {};
    next(); expect('(');
    const labels: string[] = [];
    while (peek().t === 'ident') { labels.push(next().v); if (peek().v === ',') next(); }
    expect(')');
    return { [kw.v]: labels };
  };
  const parseMetric = (): MetricExpr => {
    const t = next();
    if (t.t === 'op' && t.v === '(') { const inner = parseMetric(); expect(')'); return inner; }
    if (t.t === 'ident' && RANGE_FNS.has(t.v)) {
      expect('(');
      const log = parseLog();
      expect('[');
      const d = expect('duration', 'dur');
      const rangeNs = parseDurationNs(d.v);
      if (!rangeNs) throw new ParseError(`not a valid duration string: "${d.v}"`, d.col);
      expect(']');
      if (peek().v === 'offset') unexpected(peek());
      expect(')');
      return { kind: 'range', fn: t.v, log, rangeNs };
    }
    if (t.t === 'ident' && AGG_OPS.has(t.v)) {
      const pre = grouping();
      expect('(');
      const inner = parseMetric();
      expect(')');
      const post = grouping();
      return { kind: 'agg', op: t.v, inner, ...pre, ...post };
    }
    return unexpected(t);
  };
  const expr: LogQLExpr = peek().v === '{' ? parseLog() : parseMetric();
  if (peek().t !== 'eof') unexpected(peek());
  return expr;
}

function matches(m: Matcher, value: string): boolean {
  const hit = m.re ? m.re.test(value) : m.value === value;
  return m.op === '=' || m.op === '=~' ? hit : !hit;
}
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
