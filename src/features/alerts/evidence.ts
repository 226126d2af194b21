import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { AlertsConfig } from '../../shared/config/schema.ts';
import { dockerLogTail } from './docker-state.ts';
import type { LokiClient } from './loki-client.ts';
import { containersSelector, withRegexFilter } from './logql.ts';
import { durationMs } from '../../shared/duration.ts';
import { dedupeLines, redactLine, type DedupedLine } from './redact.ts';
import type { DockerObservation } from './symptoms.ts';

/** How far back evidence looks: the error window, but at least 15 minutes. */
export function evidenceSpanMs(window: string): number {
  return Math.max(durationMs(window), 15 * 60_000);
}

export interface LineSet {
  readonly source: string;
  readonly lines: readonly DedupedLine[];
  readonly unavailable?: string;
}

/**
 * Error lines for several containers in ONE Loki query (one selector naming them all), grouped by
 * container. Whatever the number of new incidents in a check, Loki sees one request for evidence.
 */
export async function lokiEvidence(loki: LokiClient, cfg: AlertsConfig, names: readonly string[], at: number, log: Logger): Promise<Map<string, LineSet>> {
  const out = new Map<string, LineSet>();
  if (!names.length) return out;
  const span = evidenceSpanMs(cfg.errorWindow);
  const source = `Loki, error lines of the last ${Math.round(span / 60_000)}m`;
  try {
    const query = withRegexFilter(containersSelector(cfg.containerLabel, names), cfg.errorPattern);
    const entries = await loki.range(query, { startMs: at - span, endMs: at + 1, limit: Math.min(5000, 200 * names.length) });
    const by = new Map<string, { ns: string; line: string }[]>();
    for (const e of entries) {
      const name = (e.labels[cfg.containerLabel] ?? '').replace(/^\//, '');
      by.set(name, [...(by.get(name) ?? []), { ns: e.ns, line: redactLine(e.line, 300) }]);
    }
    for (const name of names) out.set(name, { source, lines: dedupeLines(by.get(name) ?? [], cfg.evidenceLines) });
  } catch (err) {
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'evidence query failed');
    for (const name of names) out.set(name, { source, lines: [], unavailable: `Loki did not answer (${err instanceof Error ? err.message : String(err)})` });
  }
  return out;
}

/** The container's last lines from Docker: for crashes that log no "error", or when Loki is away. */
export async function dockerEvidence(docker: Docker, d: DockerObservation, max: number): Promise<LineSet> {
  try {
    const tail = await dockerLogTail(docker, d.id, d.name, { tail: Math.max(max * 3, 20) });
    return { source: 'Docker, last lines the container wrote', lines: dedupeLines(tail.map((l) => ({ ns: l.ns, line: redactLine(l.line, 300) })), max) };
  } catch (err) {
    return { source: 'Docker', lines: [], unavailable: `Docker logs could not be read (${err instanceof Error ? err.message : String(err)})` };
  }
}
