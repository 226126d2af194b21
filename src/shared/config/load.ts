import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { OpsError } from '../errors.ts';
import { fillStackFromTargets } from './targets-schema.ts';
import { configSchema, type Config, type FileConfig, type Secrets } from './schema.ts';

type Env = Record<string, string | undefined>;

/**
 * Reads a secret from NAME_FILE (preferred, the seeds' password contract) or NAME.
 * Setting both is refused, as the seeds refuse POSTGRES_PASSWORD next to POSTGRES_PASSWORD_FILE.
 */
export function readSecret(env: Env, name: string): string | undefined {
  const file = env[`${name}_FILE`];
  const direct = env[name];
  if (file && direct) {
    throw new OpsError('CONFIG_INVALID', `Both ${name} and ${name}_FILE are set. Keep only ${name}_FILE (a path to a file holding the value).`);
  }
  if (file) {
    let value: string;
    try {
      value = readFileSync(file, 'utf8').trim();
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'EISDIR' ? 'is a directory, not a file' : 'cannot be read';
      throw new OpsError('CONFIG_INVALID', `${name}_FILE points at ${file}, which ${why}. Point it at a regular file holding the value.`, { cause: err });
    }
    if (!value) throw new OpsError('CONFIG_INVALID', `${name}_FILE points at ${file}, which is empty.`);
    return value;
  }
  return direct || undefined;
}

function describeIssues(error: z.ZodError, source: string): string {
  const lines = error.issues.slice(0, 10).map((issue) => {
    const path = issue.path.length ? issue.path.join('.') : '(top level)';
    return `  - ${path}: ${issue.message}`;
  });
  return `Configuration ${source} is invalid:\n${lines.join('\n')}\nSee cdb.example.yaml for a documented example.`;
}

const SLACK_CREDENTIALS = ['SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_SIGNING_SECRET'];

/** Slack credential variables set in an environment (either form): the worker must have none. */
export function slackCredentialsIn(env: Env): string[] {
  return SLACK_CREDENTIALS.flatMap((n) => [n, `${n}_FILE`]).filter((n) => env[n]);
}

/** Applies environment overrides that deployments commonly set without editing the YAML. */
function envOverrides(raw: Record<string, unknown>, env: Env): Record<string, unknown> {
  // A section left with only comments parses as null; treat it as absent so defaults apply.
  const out: Record<string, unknown> = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== null));
  const section = (key: string): Record<string, unknown> => {
    const current = out[key];
    const copy = current && typeof current === 'object' ? { ...(current as Record<string, unknown>) } : {};
    out[key] = copy;
    return copy;
  };
  if (env.SLACK_MODE) section('slack').mode = env.SLACK_MODE;
  if (env.PORT) section('slack').port = Number(env.PORT);
  if (env.SLACK_API_URL) section('slack').apiUrl = env.SLACK_API_URL;
  if (env.REDIS_URL) section('redis').url = env.REDIS_URL;
  if (env.CDB_REDIS_PREFIX) section('redis').prefix = env.CDB_REDIS_PREFIX;
  if (env.DOCKER_HOST) section('stack').docker = env.DOCKER_HOST;
  if (env.CDB_PROJECT) section('stack').project = env.CDB_PROJECT;
  if (env.LOKI_URL) out.loki = { url: env.LOKI_URL };
  // Each process has its own environment: HEALTH_PORT is the port of the process it is set for.
  if (env.HEALTH_PORT) Object.assign(section('health'), { botPort: Number(env.HEALTH_PORT), workerPort: Number(env.HEALTH_PORT) });
  if (env.HEALTH_HOST) section('health').host = env.HEALTH_HOST;
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Validates a parsed document plus environment; the result is frozen so nothing edits it at run time. */
export function buildConfig(raw: unknown, env: Env = process.env, source = '(inline)'): Config {
  const doc = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : null;
  if (!doc) throw new OpsError('CONFIG_INVALID', `Configuration ${source} must be a YAML mapping with at least a "stack" section.`);
  const parsed = configSchema.safeParse(envOverrides(fillStackFromTargets(doc), env));
  if (!parsed.success) throw new OpsError('CONFIG_INVALID', describeIssues(parsed.error, source));
  const secrets: Secrets = {
    slackBotToken: readSecret(env, 'SLACK_BOT_TOKEN'),
    // Each Slack mode reads only the credential it uses, so a deployment can mount both files and
    // leave the unused one empty.
    slackAppToken: parsed.data.slack.mode === 'socket' ? readSecret(env, 'SLACK_APP_TOKEN') : undefined,
    slackSigningSecret: parsed.data.slack.mode === 'http' ? readSecret(env, 'SLACK_SIGNING_SECRET') : undefined,
    redisPassword: readSecret(env, 'REDIS_PASSWORD'),
    auditKey: readSecret(env, 'CDB_AUDIT_KEY'),
    stepUpKey: readSecret(env, 'CDB_STEPUP_KEY'),
  };
  const data: FileConfig = parsed.data;
  return deepFreeze({ ...data, secrets, source });
}

export function loadConfig(env: Env = process.env): Config {
  const path = env.CDB_CONFIG ?? 'cdb.yaml';
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new OpsError('CONFIG_INVALID', `Cannot read the configuration file ${path}. Set CDB_CONFIG to its path (start from cdb.example.yaml).`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new OpsError('CONFIG_INVALID', `Configuration ${path} is not valid YAML: ${why}`, { cause: err });
  }
  return buildConfig(raw, env, path);
}
