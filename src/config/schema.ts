import { z } from 'zod';

const slackUserId = z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'a Slack user ID such as U012ABCDEF');
const slackGroupId = z.string().regex(/^S[A-Z0-9]{2,}$/, 'a Slack user-group ID such as S012ABCDEF');
const slackChannelId = z.string().regex(/^[CGD][A-Z0-9]{2,}$/, 'a Slack channel ID such as C012ABCDEF');

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
        url: z.string().regex(/^rediss?:\/\/[^\s]+$/, 'a redis:// URL without password (use REDIS_PASSWORD_FILE)').default('redis://127.0.0.1:6379'),
        prefix: z.string().regex(/^[a-zA-Z0-9:_-]+$/).default('cdb'),
      })
      .strict()
      .default({ url: 'redis://127.0.0.1:6379', prefix: 'cdb' }),
    loki: z.object({ url: z.url() }).strict().optional(),
    worker: z
      .object({
        concurrency: z.number().int().min(1).max(64).default(4),
        jobTimeoutSeconds: z.number().int().min(5).max(3600).default(300),
      })
      .strict()
      .default({ concurrency: 4, jobTimeoutSeconds: 300 }),
    audit: z
      .object({ streamMaxLen: z.number().int().min(100).default(10000) })
      .strict()
      .default({ streamMaxLen: 10000 }),
  })
  .strict();

export type FileConfig = z.infer<typeof configSchema>;

/** Secrets never live in the YAML; they come from the environment, preferably as *_FILE paths. */
export interface Secrets {
  readonly slackBotToken?: string;
  readonly slackAppToken?: string;
  readonly slackSigningSecret?: string;
  readonly redisPassword?: string;
}

export type Config = Readonly<FileConfig> & { readonly secrets: Secrets; readonly source: string };
