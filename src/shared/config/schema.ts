import { z } from 'zod';
import { durationSchema } from '../duration.ts';
import { CHECK_IDS, type CheckId } from '../contracts/doctor.ts';
import { rotationSection } from './rotation-schema.ts';
import { wireguardSection } from './wireguard-schema.ts';
import { targetName, targetsSection } from './targets-schema.ts';
import { backupSection } from './backup-schema.ts';

const slackUserId = z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'a Slack user ID such as U012ABCDEF');
const slackGroupId = z.string().regex(/^S[A-Z0-9]{2,}$/, 'a Slack user-group ID such as S012ABCDEF');
const slackChannelId = z.string().regex(/^[CGD][A-Z0-9]{2,}$/, 'a Slack channel ID such as C012ABCDEF');
const commandName = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'a subcommand name such as rollback');

/** Commands that need a second person's approval unless config says otherwise (see docs/security.md). */
export const DEFAULT_APPROVAL_COMMANDS = ['rollback', 'restore', 'rotate', 'doctor', 'clean', 'deep-clean'] as const;
const approvalCount = z.number().int().min(1).max(10);
// Fractions are allowed (0.5 = 30 s) so tests can watch a request expire.
const expiryMinutes = z.number().min(0.05).max(24 * 60);
const approvalRule = z.object({ required: approvalCount.optional(), expiryMinutes: expiryMinutes.optional() }).strict();

const roleMembers = z
  .object({
    users: z.array(slackUserId).default([]),
    groups: z.array(slackGroupId).default([]),
  })
  .strict()
  .default({ users: [], groups: [] });

/** `unix:///path`, `tcp://host:port` or `ssh://user@host[:port]`. */
export const dockerEndpoint = z
  .string()
  .regex(/^(unix:\/\/\/[\w./-]+|tcp:\/\/[\w.-]+:\d+|ssh:\/\/[a-z_][a-z0-9_-]*@[\w.-]+(:\d+)?)$/,
    'unix:///var/run/docker.sock, tcp://host:2375 or ssh://user@host[:port]');

const composeName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'a compose service, network or secret name');

/** `doctor`: which rules apply to this stack, and when to run it on its own (docs/doctor.md). */
const doctorSection = z
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
const alertsSection = z
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

/** `audit`: the capped, hash-chained audit stream and its checkpoints (docs/security.md). */
const auditSection = z
  .object({
    streamMaxLen: z.number().int().min(100).default(10000),
    /** How often the bot writes a signed checkpoint of the chain's head (0 = never). */
    checkpointMinutes: z.number().min(0).max(24 * 60).default(60),
    /** Append-only JSON-lines file the checkpoints are written to (on the bot host). */
    checkpointFile: z.string().min(1).optional(),
    /** Channel the checkpoints are posted to. */
    checkpointChannel: slackChannelId.optional(),
  })
  .strict()
  .prefault({});

/** `security`: request replay protection, rate limits and step-up codes (docs/security.md). */
const securitySection = z
  .object({
    /** Remember each signed request (and Socket Mode envelope, and event id) for the signature window. */
    replayProtection: z.boolean().default(true),
    rateLimits: z
      .object({
        enabled: z.boolean().default(true),
        windowSeconds: z.number().int().min(1).max(3600).default(60),
        /** Commands per user per window, all commands together. */
        perUser: z.number().int().min(1).max(10000).default(10),
        /** Lower limits per user for single commands (runs of that command per window). */
        commands: z.record(commandName, z.number().int().min(1).max(10000)).default({ doctor: 3, logs: 5 }),
      })
      .strict()
      .prefault({}),
    /** BullMQ priority of jobs users ask for; alert ticks, schedules and approved jobs carry none and go first. */
    userJobPriority: z.number().int().min(1).max(2_097_152).default(10),
    stepUp: z
      .object({
        /** Commands whose approvers confirm with a TOTP code (opt-in, e.g. restore, rotate). */
        commands: z.array(commandName).default([]),
        /** Wrong codes in a row before the approver is locked out of step-up. */
        maxFailures: z.number().int().min(1).max(100).default(5),
        lockoutMinutes: z.number().min(0.05).max(24 * 60).default(15),
        /** How long an unconfirmed enrollment (and its DM) stays valid. */
        enrollMinutes: z.number().min(1).max(24 * 60).default(10),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});
export type SecurityConfig = z.infer<typeof securitySection>;

export const configSchema = z
  .object({
    stack: z
      .object({
        project: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'a compose project name (lowercase letters, digits, - and _)'),
        docker: dockerEndpoint.default('unix:///var/run/docker.sock'),
        composeFiles: z.array(z.string().min(1)).default([]),
      })
      .strict(),
    ssh: z
      .object({
        privateKeyFile: z.string().min(1).optional(),
        knownHostsFile: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    slack: z
      .object({
        mode: z.enum(['socket', 'http']).default('socket'),
        port: z.number().int().min(0).max(65535).default(3000),
        apiUrl: z.url().optional(),
        command: z.string().regex(/^\/[a-z0-9_-]+$/).default('/cdb'),
        /** When set, interactive payloads (approval buttons) from any other app are refused. */
        appId: z.string().regex(/^A[A-Z0-9]{2,}$/, 'a Slack app ID such as A012ABCDEF').optional(),
      })
      .strict()
      .default({ mode: 'socket', port: 3000, command: '/cdb' }),
    channels: z
      .object({
        commands: z.array(slackChannelId).default([]),
        alerts: slackChannelId.optional(),
      })
      .strict()
      .default({ commands: [] }),
    roles: z
      .object({ viewer: roleMembers, operator: roleMembers, approver: roleMembers })
      .strict()
      .default({ viewer: { users: [], groups: [] }, operator: { users: [], groups: [] }, approver: { users: [], groups: [] } }),
    redis: z
      .object({
        url: z
          .string()
          .regex(/^rediss?:\/\/[^\s]+$/, 'a redis:// URL without password (use REDIS_PASSWORD_FILE)')
          // A password in the URL would sit in the environment and the config in clear: the password contract forbids it.
          .refine((u) => !/^rediss?:\/\/[^/@]*:[^/@]*@/.test(u), 'a redis:// URL without password: put the password in a file named by REDIS_PASSWORD_FILE')
          .default('redis://127.0.0.1:6379'),
        prefix: z.string().regex(/^[a-zA-Z0-9:_-]+$/).default('cdb'),
      })
      .strict()
      .default({ url: 'redis://127.0.0.1:6379', prefix: 'cdb' }),
    loki: z.object({ url: z.url() }).strict().optional(),
    alerts: alertsSection,
    worker: z
      .object({
        concurrency: z.number().int().min(1).max(64).default(4),
        jobTimeoutSeconds: z.number().int().min(5).max(3600).default(300),
      })
      .strict()
      .default({ concurrency: 4, jobTimeoutSeconds: 300 }),
    approvals: z
      .object({
        /** Added to the commands that declare `approval` themselves; config can add, never exempt. */
        commands: z.array(commandName).default([...DEFAULT_APPROVAL_COMMANDS]),
        /** Approvers needed besides the requester. */
        required: approvalCount.default(1),
        expiryMinutes: expiryMinutes.default(15),
        overrides: z.record(commandName, approvalRule).default({}),
      })
      .strict()
      .default({ commands: [...DEFAULT_APPROVAL_COMMANDS], required: 1, expiryMinutes: 15, overrides: {} }),
    audit: auditSection,
    security: securitySection,
    rollback: z
      .object({
        /** Tags (with their manifests) kept; older ones are pruned, images only when left untagged and unused. */
        keep: z.number().int().min(2).max(200).default(10),
        /** Where the worker keeps a JSON copy of every manifest (on the worker host). */
        manifestDir: z.string().min(1).default('/var/lib/cdb/rollback'),
        /** How long each recreated container may take to become healthy (or running, without a healthcheck). */
        healthTimeoutSeconds: z.number().int().min(5).max(600).default(60),
        /** The overlay that pins services to their rollback tags; default rollback.yml next to the first compose file. */
        overlayPath: z.string().min(1).optional(),
      })
      .strict()
      .default({ keep: 10, manifestDir: '/var/lib/cdb/rollback', healthTimeoutSeconds: 60 }),
    doctor: doctorSection,
    rotation: rotationSection,
    wireguard: wireguardSection,
    /** Named stacks on one or more hosts (docs/targets.md); absent: `stack` is the one target. */
    targets: targetsSection,
    /** Where a command without `--on` goes when there are several targets (`/cdb status` shows them all). */
    defaultTarget: targetName.optional(),
    /** Seconds without a heartbeat after which a target's worker counts as gone. */
    workerStaleSeconds: z.number().int().min(5).max(3600).default(30),
    /** /cdb clean (docs/clean.md). */
    clean: z
      .object({
        /** Volumes (full Docker names) `clean --deep` never removes, used or not: the databases. */
        protect: z.array(z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/, 'a Docker volume name such as shop_pgdata')).default([]),
        /**
         * The Engine's build cache belongs to no project: pruning it also drops other projects' cache.
         * Only true on a host that runs this stack alone.
         */
        buildCache: z.boolean().default(false),
      })
      .strict()
      .default({ protect: [], buildCache: false }),
    /** GET /healthz and /metrics of each process (docs/observability.md). HEALTH_PORT sets the port of the process it is given to. */
    health: z
      .object({
        enabled: z.boolean().default(true),
        /** 127.0.0.1: reachable by the container's own healthcheck, not from other hosts. */
        host: z.string().regex(/^[0-9a-fA-F.:]+$|^localhost$/, 'an IP address such as 127.0.0.1 (or 0.0.0.0 for a scraper on another host)').default('127.0.0.1'),
        botPort: z.number().int().min(0).max(65535).default(9464),
        workerPort: z.number().int().min(0).max(65535).default(9465),
      })
      .strict()
      .default({ enabled: true, host: '127.0.0.1', botPort: 9464, workerPort: 9465 }),
    backup: backupSection,
    /**
     * Read-only queue dashboard (bull-board) in the bot process, off by default (docs/observability.md).
     * Bound to 127.0.0.1: reach it through an SSH tunnel, never expose it.
     */
    dashboard: z
      .object({
        enabled: z.boolean().default(false),
        host: z.string().regex(/^[0-9a-fA-F.:]+$|^localhost$/, 'an IP address such as 127.0.0.1').default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(9466),
      })
      .strict()
      .default({ enabled: false, host: '127.0.0.1', port: 9466 }),
  })
  .strict()
  .refine((c) => !c.defaultTarget || (c.targets ?? []).some((t) => t.name === c.defaultTarget), { message: 'defaultTarget must name one of targets', path: ['defaultTarget'] })
  .refine((c) => c.rotation.secrets.every((s) => s.target === undefined || (c.targets ?? []).some((t) => t.name === s.target)), {
    message: 'a secret’s target must name one of targets',
    path: ['rotation', 'secrets'],
  });

export type FileConfig = z.infer<typeof configSchema>;

/** Secrets never live in the YAML; they come from the environment, preferably as *_FILE paths. */
export interface Secrets {
  readonly slackBotToken?: string;
  readonly slackAppToken?: string;
  readonly slackSigningSecret?: string;
  readonly redisPassword?: string;
  /** HMAC key of the audit hash chain and its checkpoints (CDB_AUDIT_KEY_FILE). */
  readonly auditKey?: string;
  /** Key that encrypts TOTP secrets at rest (CDB_STEPUP_KEY_FILE; bot only). */
  readonly stepUpKey?: string;
}

export type Config = Readonly<FileConfig> & {
  readonly secrets: Secrets;
  readonly source: string;
  /** Set in a worker's per-target view (src/shared/targets.ts): the target its jobs are about. */
  readonly target?: { readonly name: string; readonly queue: string };
};
