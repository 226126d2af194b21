import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { z } from 'zod';

/** Engine events that mean "look now": a crash is reported in seconds, not at the next tick. */
const TRIGGERS = /^(die|oom|restart|kill|health_status: unhealthy|health_status: healthy)$/;

const eventSchema = z.object({
  Type: z.string().optional(),
  Action: z.string(),
  time: z.number().optional(),
  timeNano: z.number().optional(),
  Actor: z.object({ Attributes: z.record(z.string(), z.string()).optional() }).optional(),
});

export interface ContainerEvent {
  readonly name: string;
  readonly action: string;
  readonly atMs: number;
}

export interface EventWatcher {
  close(): void;
}

/**
 * Follows `/events` for the project's containers and reports the ones worth a check, batched over a
 * few milliseconds (a crash loop emits die, restart and start together). Reconnects with back-off,
 * resuming from the last event seen.
 */
export function watchContainerEvents(opts: { docker: Docker; project: string; log: Logger; batchMs?: number; onEvents(events: ContainerEvent[]): void }): EventWatcher {
  const { docker, project, log } = opts;
  let closed = false;
  let stream: NodeJS.ReadableStream | undefined;
  let retry: NodeJS.Timeout | undefined;
  let backoff = 500;
  let sinceSec: number | undefined;
  let pending: ContainerEvent[] = [];
  let flush: NodeJS.Timeout | undefined;

  const emit = (e: ContainerEvent): void => {
    pending.push(e);
    flush ??= setTimeout(() => {
      flush = undefined;
      const batch = pending;
      pending = [];
      if (!closed && batch.length) opts.onEvents(batch);
    }, opts.batchMs ?? 30);
  };

  const onLine = (line: string): void => {
    if (!line.trim()) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return;
    }
    const ev = eventSchema.safeParse(parsed);
    if (!ev.success || (ev.data.Type && ev.data.Type !== 'container')) return;
    const atMs = ev.data.timeNano ? Math.floor(ev.data.timeNano / 1e6) : (ev.data.time ?? Date.now() / 1000) * 1000;
    sinceSec = Math.floor(atMs / 1000);
    const name = ev.data.Actor?.Attributes?.name;
    if (name && TRIGGERS.test(ev.data.Action)) emit({ name: name.replace(/^\//, ''), action: ev.data.Action, atMs });
  };

  const reconnect = (why: string): void => {
    if (closed || retry) return;
    log.warn({ why, retryMs: backoff }, 'alerts: Docker event stream lost; reconnecting');
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, backoff);
    backoff = Math.min(backoff * 2, 30_000);
  };

  const connect = async (): Promise<void> => {
    try {
      const filters = JSON.stringify({ type: ['container'], label: [`com.docker.compose.project=${project}`] });
      const s = await docker.getEvents({ filters, ...(sinceSec ? { since: sinceSec } : {}) } as Docker.GetEventsOptions);
      if (closed) {
        (s as unknown as { destroy?: () => void }).destroy?.();
        return;
      }
      stream = s;
      backoff = 500;
      let buffer = '';
      s.on('data', (chunk: Buffer | string) => {
        buffer += chunk.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const l of lines) onLine(l);
      });
      s.on('error', (err: Error) => reconnect(err.message));
      s.on('end', () => reconnect('stream ended'));
    } catch (err) {
      reconnect(err instanceof Error ? err.message : String(err));
    }
  };

  void connect();
  return {
    close() {
      closed = true;
      clearTimeout(retry);
      clearTimeout(flush);
      (stream as unknown as { destroy?: () => void } | undefined)?.destroy?.();
    },
  };
}
