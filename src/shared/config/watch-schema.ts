import { z } from 'zod';
import { durationSchema } from '../duration.ts';
import { CHECK_IDS, type CheckId } from '../contracts/doctor.ts';
import { composeName } from './ids.ts';

/** `doctor`: which rules apply to this stack, and when to run it on its own (docs/doctor.md). */
export const doctorSection = z
  .object({
    /** Cron pattern (5 or 6 fields) for the scheduled doctor; absent means no schedule. */
    schedule: z.string().regex(/^\S+(\s+\S+){4,5}$/, 'a cron pattern such as "*/15 * * * *"').optional(),
    /** Engine API calls in flight at once, and how long one may take. */
    concurrency: z.number().int().min(1).max(64).default(16),
    timeoutSeconds: z.number().int().min(1).max(120).default(10),
    /** Production: every project network must be `internal: true`, except `egressNetworks`. */
    production: z.boolean().default(false),
    egressNetworks: z.array(z.string().min(1)).default([]),
    /** Docker network names that must exist (full names, e.g. cdb_backend). */
    expectedNetworks: z.array(z.string().min(1)).default([]),
    /** Services allowed to mount the Docker socket (e.g. this worker). */
    allowDockerSocket: z.array(composeName).default([]),
    /** Secrets (names under /run/secrets) that must not be empty; others may be. */
    requiredSecrets: z.array(composeName).default([]),
    /** Where runbooks/*.md are browsable (e.g. the repository's web view); findings link there. */
    runbookBaseUrl: z.url().optional(),
    /** Accepted exceptions: check id → service (or volume/network) names. Reported as waived. */
    waivers: z
      .record(z.string(), z.array(z.string().min(1)))
      .refine((w) => Object.keys(w).every((k) => (CHECK_IDS as readonly string[]).includes(k)), { message: `keys must be check ids: ${CHECK_IDS.join(', ')}` })
      .transform((w) => w as Partial<Record<CheckId, string[]>>)
      .default({}),
  })
  .strict()
  .default({ concurrency: 16, timeoutSeconds: 10, production: false, egressNetworks: [], expectedNetworks: [], allowDockerSocket: [], requiredSecrets: [], waivers: {} });

/** `alerts`: the health watcher (docs/alerts.md). The Loki parts apply only when `loki.url` is set. */
export const alertsSection = z
  .object({
    enabled: z.boolean().default(true),
    /** One aggregated Loki query and one Engine API sweep per tick. */
    intervalSeconds: z.number().int().min(1).max(3600).default(30),
    /** LogQL stream selector of the stack's logs; default `{<containerLabel>=~"<stack.project>[_-].+"}`. */
    selector: z.string().regex(/^\{[^\n]{1,500}\}$/, 'a LogQL stream selector such as {container_name=~"cdb_.+"}').optional(),
    /** The Loki label that holds the container name (promtail relabelling decides it). */
    containerLabel: z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/, 'a Loki label name').default('container_name'),
    /** RE2 regular expression a log line must match to count as an error. */
    errorPattern: z.string().min(1).max(500).default('(?i)(error|fatal|panic|exception)'),
    /** Range of the error count: `count_over_time(...[errorWindow])`. */
    errorWindow: durationSchema('a duration such as 30s, 5m or 1h').default('5m'),
    /** Error lines per container within errorWindow that open an incident. */
    errorThreshold: z.number().int().min(1).max(1_000_000).default(5),
    /** Consecutive healthy scheduled checks before an incident resolves. */
    resolveAfterChecks: z.number().int().min(1).max(100).default(3),
    /** A new incident waits this long for more symptoms before its first message (batching). */
    groupWaitSeconds: z.number().min(0).max(300).default(1),
    /** A still-firing incident gets a reminder in its thread this often. */
    repeatIntervalMinutes: z.number().min(1).max(10080).default(240),
    /** This many incidents of one container within windowMinutes: reopen the last one as flapping instead. */
    flap: z
      .object({ windowMinutes: z.number().min(1).max(1440).default(60), maxIncidents: z.number().int().min(2).max(100).default(3) })
      .strict()
      .default({ windowMinutes: 60, maxIncidents: 3 }),
    lokiTimeoutSeconds: z.number().min(0.5).max(60).default(5),
    /** Failed Loki ticks in a row before the one "monitoring degraded" notice. */
    lokiDegradedAfterFailures: z.number().int().min(1).max(100).default(2),
    /** Error lines shown as evidence in an incident thread. */
    evidenceLines: z.number().int().min(1).max(50).default(10),
    /** Where runbooks/*.md are browsable (e.g. the repository's web view); incident threads link there. */
    runbookBaseUrl: z.url().optional(),
  })
  .strict()
  .prefault({});
export type AlertsConfig = z.infer<typeof alertsSection>;
