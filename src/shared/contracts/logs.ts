import { z } from 'zod';
import { serviceName } from './status.ts';
import { durationSchema } from '../duration.ts';

export const LOGS_MAX_FILTER = 200;
export const LOGS_MAX_LIMIT = 1000;
export const LOGS_MAX_SINCE_MS = 7 * 86_400_000;

/** `--since`: 30s, 15m, 2h, 7d; at most seven days back. */
export const sinceSchema = durationSchema('a duration such as 30s, 15m, 2h or 1d', { ms: LOGS_MAX_SINCE_MS, hint: 'at most 7d' });

/** A substring to look for. Any text is fine: it is escaped into a LogQL string, never spliced. */
export const logFilterSchema = z.string().min(1).max(LOGS_MAX_FILTER, `a filter of at most ${LOGS_MAX_FILTER} characters`);

/** The logs job's data, as the worker validates it again. */
export const logsArgsSchema = z
  .object({
    service: serviceName,
    filter: logFilterSchema.optional(),
    since: sinceSchema.default('15m'),
    limit: z.number().int().min(1).max(LOGS_MAX_LIMIT).default(100),
  })
  .strict();
export type LogsArgs = z.infer<typeof logsArgsSchema>;

export interface LogLine {
  readonly ts: string;
  readonly container: string;
  readonly line: string;
}

export interface LogsResult {
  readonly service: string;
  readonly since: string;
  readonly filter?: string;
  readonly limit: number;
  readonly source: 'loki' | 'docker';
  /** The LogQL sent to Loki (shown so people can reuse it in Grafana). */
  readonly query?: string;
  readonly containers: readonly string[];
  /** Oldest first, secrets masked, each line bounded. */
  readonly lines: readonly LogLine[];
  /** More lines matched than `limit`. */
  readonly truncated: boolean;
  readonly note?: string;
}
