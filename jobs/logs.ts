import type Docker from 'dockerode';
import { defineJob } from '../src/worker/define-job.ts';
import { OpsError } from '../src/shared/errors.ts';
import { logsArgsSchema, type LogLine, type LogsArgs, type LogsResult } from '../src/shared/contracts/logs.ts';
import { containerNameOf, dockerLogTail, serviceContainers } from '../src/features/alerts/docker-state.ts';
import { LokiClient, LokiError } from '../src/features/alerts/loki-client.ts';
import { containersSelector, serviceSelector, withLineFilter } from '../src/features/alerts/logql.ts';
import { durationMs } from '../src/shared/duration.ts';
import { redactLine } from '../src/features/alerts/redact.ts';

/** What one result may carry through Redis and into Slack (a file upload beyond a few lines). */
const MAX_RESULT_CHARS = 400_000;
const LINE_MAX = 1000;

function nsToIso(ns: string): string {
  const ms = Number(BigInt(ns) / 1_000_000n);
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : '';
}

/** Newest-first entries → the result's oldest-first, redacted, size-bounded lines. */
function finish(entries: ReadonlyArray<{ ns: string; container: string; line: string }>, limit: number): { lines: LogLine[]; truncated: boolean } {
  const lines: LogLine[] = [];
  let size = 0;
  for (const e of entries.slice(0, limit)) {
    const line = redactLine(e.line, LINE_MAX);
    size += line.length + e.container.length + 30;
    if (size > MAX_RESULT_CHARS) break;
    lines.push({ ts: nsToIso(e.ns), container: e.container, line });
  }
  return { lines: lines.reverse(), truncated: entries.length > lines.length };
}

async function fromDocker(docker: Docker, containers: Docker.ContainerInfo[], args: LogsArgs, startMs: number): Promise<{ lines: LogLine[]; truncated: boolean }> {
  const needle = args.filter;
  const all: { ns: string; container: string; line: string }[] = [];
  for (const c of containers) {
    const tail = await dockerLogTail(docker, c.Id, containerNameOf(c), { tail: needle ? Math.min(20_000, args.limit * 20) : args.limit + 1, sinceSec: Math.floor(startMs / 1000) });
    all.push(...tail.filter((l) => !needle || l.line.includes(needle)));
  }
  all.sort((a, b) => (BigInt(b.ns) > BigInt(a.ns) ? 1 : BigInt(b.ns) < BigInt(a.ns) ? -1 : 0));
  return finish(all, args.limit);
}

/**
 * `/cdb logs`: a Loki query_range over the service's containers, the user's filter escaped into a
 * LogQL string; Docker's own logs when Loki is not configured or does not answer.
 */
export default defineJob({
  name: 'logs',
  args: logsArgsSchema,
  timeoutMs: 60_000,
  async run(ctx, args): Promise<LogsResult> {
    const { config, docker } = ctx;
    const project = config.stack.project;
    const containers = await serviceContainers(docker, project, args.service);
    const names = containers.map(containerNameOf);
    const endMs = Date.now();
    const startMs = endMs - durationMs(args.since);
    const base = { service: args.service, since: args.since, filter: args.filter, limit: args.limit, containers: names };
    let note: string | undefined;
    if (config.loki) {
      const label = config.alerts.containerLabel;
      const query = withLineFilter(names.length ? containersSelector(label, names) : serviceSelector(label, project, args.service), args.filter);
      ctx.progress(`Asking Loki for ${args.service} logs…`);
      try {
        const loki = new LokiClient({ url: config.loki.url, timeoutMs: Math.max(10_000, config.alerts.lokiTimeoutSeconds * 1000) });
        const entries = await loki.range(query, { startMs, endMs, limit: args.limit + 1, signal: ctx.signal });
        const label0 = (e: { labels: Readonly<Record<string, string>> }) => (e.labels[label] ?? '').replace(/^\//, '');
        return { ...base, source: 'loki', query, ...finish(entries.map((e) => ({ ns: e.ns, container: label0(e), line: e.line })), args.limit) };
      } catch (err) {
        if (!(err instanceof LokiError)) throw err;
        if (!names.length) throw new OpsError('LOGS_UNAVAILABLE', `Loki did not answer (${err.message}), and Docker has no container of \`${args.service}\` to read instead.`);
        ctx.log.warn({ err: err.message }, 'logs: Loki failed, falling back to Docker');
        note = `Loki did not answer (${err.message}); these lines come from Docker.`;
      }
    }
    if (!names.length) throw new OpsError('NOT_FOUND', `No container of service \`${args.service}\` in compose project \`${project}\`. Check the name with \`/cdb status\`.`);
    ctx.progress(`Reading ${args.service} logs from Docker…`);
    return { ...base, source: 'docker', note, ...(await fromDocker(docker, containers, args, startMs)) };
  },
});
