import { z } from 'zod';
import { rotationSection } from './rotation-schema.ts';
import { wireguardSection } from './wireguard-schema.ts';
import { targetName, targetsSection } from './targets-schema.ts';
import { backupSection } from './backup-schema.ts';
import { commandName, slackChannelId, slackGroupId, slackUserId } from './ids.ts';
import { alertsSection, doctorSection } from './watch-schema.ts';
import { auditSection, securitySection } from './security-schema.ts';

export type { AlertsConfig } from './watch-schema.ts';
export type { SecurityConfig } from './security-schema.ts';

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
