import { z } from 'zod';
import { redactLine } from './redact.ts';
import { lokiErrorsTotal } from '../../shared/metrics.ts';

/** Why a Loki request failed: the watcher reports all of them as "monitoring degraded". */
export type LokiFailureKind = 'unreachable' | 'timeout' | 'http' | 'bad-response';

export class LokiError extends Error {
  constructor(
    message: string,
    readonly kind: LokiFailureKind,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'LokiError';
    // Every failure is built here, so this is the one place that counts them.
    lokiErrorsTotal.inc({ kind });
  }
}

export interface VectorSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface LogEntry {
  /** Nanoseconds since the epoch, as Loki sends them (a decimal string). */
  readonly ns: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly line: string;
}

const labels = z.record(z.string(), z.string());
const envelope = z.object({ status: z.literal('success'), data: z.object({ resultType: z.string(), result: z.array(z.unknown()) }) });
const vectorItem = z.object({ metric: labels, value: z.tuple([z.number(), z.string()]) });
const streamItem = z.object({ stream: labels, values: z.array(z.tuple([z.string().regex(/^\d{1,20}$/), z.string()])) });

export interface LokiClientOptions {
  readonly url: string;
  readonly timeoutMs: number;
}

export interface RangeOptions {
  readonly startMs: number;
  readonly endMs: number;
  readonly limit: number;
  readonly direction?: 'backward' | 'forward';
  readonly signal?: AbortSignal;
}

function toNs(ms: number): string {
  return (BigInt(Math.floor(ms)) * 1_000_000n).toString();
}

/**
 * A small client for Loki's HTTP API (v1). Queries go as POST forms: a selector naming hundreds of
 * containers would not fit in a URL. Every request has a time limit; failures become LokiErrors.
 */
export class LokiClient {
  /** Query requests sent (instant and range), for the bench and for tests. */
  queries = 0;
  private readonly base: string;

  constructor(private readonly opts: LokiClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
  }

  private async request(path: string, form?: URLSearchParams, signal?: AbortSignal): Promise<Response> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const init: RequestInit = { signal: signal ? AbortSignal.any([signal, timeout]) : timeout, headers: { accept: 'application/json' } };
    if (form) Object.assign(init, { method: 'POST', body: form, headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' } });
    try {
      return await fetch(`${this.base}${path}`, init);
    } catch (err) {
      if (timeout.aborted) throw new LokiError(`Loki did not answer within ${this.opts.timeoutMs} ms`, 'timeout');
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err instanceof Error ? err.message : String(err));
      throw new LokiError(`Loki is unreachable (${cause})`, 'unreachable');
    }
  }

  private async query(path: string, form: URLSearchParams, signal?: AbortSignal): Promise<{ resultType: string; result: unknown[] }> {
    this.queries++;
    const res = await this.request(path, form, signal);
    const body = await res.text().catch(() => '');
    if (!res.ok) {
      const detail = redactLine(body.trim().split('\n')[0] ?? '').slice(0, 200);
      throw new LokiError(`Loki answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`, 'http', res.status);
    }
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw new LokiError('Loki answered something that is not JSON', 'bad-response');
    }
    const parsed = envelope.safeParse(json);
    if (!parsed.success) throw new LokiError('Loki answered JSON of an unexpected shape', 'bad-response');
    return parsed.data.data;
  }

  /** An instant metric query (`/loki/api/v1/query`): one sample per series. */
  async instant(query: string, atMs = Date.now(), signal?: AbortSignal): Promise<VectorSample[]> {
    const data = await this.query('/loki/api/v1/query', new URLSearchParams({ query, time: toNs(atMs) }), signal);
    if (data.resultType !== 'vector') throw new LokiError(`Loki answered a ${data.resultType}, not a vector`, 'bad-response');
    const out: VectorSample[] = [];
    for (const item of data.result) {
      const v = vectorItem.safeParse(item);
      if (!v.success) throw new LokiError('Loki answered a vector sample of an unexpected shape', 'bad-response');
      out.push({ labels: v.data.metric, value: Number(v.data.value[1]) });
    }
    return out;
  }

  /** Log lines (`/loki/api/v1/query_range`), newest first whatever order the streams came in. */
  async range(query: string, o: RangeOptions): Promise<LogEntry[]> {
    const form = new URLSearchParams({ query, start: toNs(o.startMs), end: toNs(o.endMs), limit: String(o.limit), direction: o.direction ?? 'backward' });
    const data = await this.query('/loki/api/v1/query_range', form, o.signal);
    if (data.resultType !== 'streams') throw new LokiError(`Loki answered a ${data.resultType}, not log streams`, 'bad-response');
    const out: LogEntry[] = [];
    for (const item of data.result) {
      const s = streamItem.safeParse(item);
      if (!s.success) throw new LokiError('Loki answered a log stream of an unexpected shape', 'bad-response');
      for (const [ns, line] of s.data.values) out.push({ ns, labels: s.data.stream, line });
    }
    const forward = o.direction === 'forward';
    out.sort((a, b) => {
      const d = BigInt(a.ns) - BigInt(b.ns);
      const c = d === 0n ? 0 : d < 0n ? -1 : 1;
      return forward ? c : -c;
    });
    return out.slice(0, o.limit);
  }

  /** `/ready`: 200 when Loki accepts queries. */
  async ready(): Promise<boolean> {
    try {
      const res = await this.request('/ready');
      await res.text().catch(() => '');
      return res.ok;
    } catch {
      return false;
    }
  }
}
