// The LogQL subset the Loki stand-in understands, parsed as Loki 2.7 parses it (the same error texts):
// selectors (= != =~ !~), line filters (|= != |~ !~), count_over_time/rate/bytes_over_time/bytes_rate
// and sum/count/min/max/avg [by|without (...)]. What real Loki has and the stand-in lacks is Unsupported (501).

export type Labels = Record<string, string>;
export interface Matcher { name: string; op: string; value: string; re?: RegExp }
export interface LineFilter { op: string; value: string; re?: RegExp }
export interface LogExpr { kind: 'log'; matchers: Matcher[]; filters: LineFilter[] }
export interface RangeExpr { kind: 'range'; fn: string; log: LogExpr; rangeNs: bigint }
export interface AggExpr { kind: 'agg'; op: string; by?: string[]; without?: string[]; inner: MetricExpr }
export type MetricExpr = RangeExpr | AggExpr;
export type LogQLExpr = LogExpr | MetricExpr;

export class ParseError extends Error {
  constructor(msg: string, readonly col?: number) {
    super(col === undefined ? `parse error : ${msg}` : `parse error at line 1, col ${col}: ${msg}`);
  }
}
export class Unsupported extends Error {}

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
export function compileRegex(src: string, anchored: boolean): RegExp {
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

/** Whether a label matcher accepts a value (an absent label is the empty string). */
export function matches(m: Matcher, value: string): boolean {
  const hit = m.re ? m.re.test(value) : m.value === value;
  return m.op === '=' || m.op === '=~' ? hit : !hit;
}
