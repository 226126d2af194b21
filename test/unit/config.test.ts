import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildConfig, loadConfig, readSecret, slackCredentialsIn } from '../../src/shared/config/load.ts';

const dir = mkdtempSync(join(tmpdir(), 'cdb-config-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('configuration', () => {
  it('loads the shipped example with nothing but the environment', () => {
    const config = loadConfig({ CDB_CONFIG: 'cdb.example.yaml' });
    expect(config.stack.project).toBe('cdb');
    expect(config.slack.mode).toBe('socket');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.roles.viewer.users)).toBe(true);
  });

  it('names the field and the fix when the file is wrong', () => {
    const path = file('bad.yaml', 'stack:\n  project: "Bad Name"\nroles:\n  operator:\n    users: [alice]\nbogus: 1\n');
    expect(() => loadConfig({ CDB_CONFIG: path })).toThrowError(/stack\.project: a compose project name/);
    expect(() => loadConfig({ CDB_CONFIG: path })).toThrowError(/roles\.operator\.users\.0: a Slack user ID/);
    expect(() => loadConfig({ CDB_CONFIG: path })).toThrowError(/Unrecognized key.*bogus/);
  });

  it('says what to do when the file is missing or not YAML', () => {
    expect(() => loadConfig({ CDB_CONFIG: join(dir, 'missing.yaml') })).toThrowError(/Set CDB_CONFIG/);
    expect(() => loadConfig({ CDB_CONFIG: file('broken.yaml', 'stack: [') })).toThrowError(/not valid YAML/);
  });

  it('lets the environment override deployment settings', () => {
    const config = buildConfig({ stack: { project: 'cdb' } }, { SLACK_MODE: 'http', PORT: '8080', SLACK_API_URL: 'http://127.0.0.1:9/api/', REDIS_URL: 'redis://10.0.0.1:6380', DOCKER_HOST: 'ssh://ops@stack1:2222' });
    expect(config.slack).toMatchObject({ mode: 'http', port: 8080, apiUrl: 'http://127.0.0.1:9/api/' });
    expect(config.redis.url).toBe('redis://10.0.0.1:6380');
    expect(config.stack.docker).toBe('ssh://ops@stack1:2222');
  });

  it('refuses a password inside redis.url: it belongs in REDIS_PASSWORD_FILE (the password contract)', () => {
    for (const url of ['redis://:hunter2@10.0.0.1:6379', 'redis://default:hunter2@cache:6379/0', 'rediss://u:hunter2@cache']) {
      expect(() => buildConfig({ stack: { project: 'cdb' } }, { REDIS_URL: url })).toThrowError(/REDIS_PASSWORD_FILE/);
      expect(() => buildConfig({ stack: { project: 'cdb' }, redis: { url } }, {})).toThrowError(/REDIS_PASSWORD_FILE/);
      try {
        buildConfig({ stack: { project: 'cdb' } }, { REDIS_URL: url });
      } catch (err) {
        expect(String((err as Error).message)).not.toContain('hunter2');
      }
    }
    expect(buildConfig({ stack: { project: 'cdb' } }, { REDIS_URL: 'redis://cache:6379/0' }).redis.url).toBe('redis://cache:6379/0');
  });

  it('refuses a Docker endpoint that is not a socket, tcp or ssh URL', () => {
    expect(() => buildConfig({ stack: { project: 'cdb', docker: 'ssh://root@host;reboot' } }, {})).toThrowError(/stack\.docker/);
  });

  it('reads secrets from *_FILE and refuses both forms together (the password contract)', () => {
    const secret = file('token', 'xoxb-from-file\n');
    expect(readSecret({ SLACK_BOT_TOKEN_FILE: secret }, 'SLACK_BOT_TOKEN')).toBe('xoxb-from-file');
    expect(() => readSecret({ SLACK_BOT_TOKEN_FILE: secret, SLACK_BOT_TOKEN: 'x' }, 'SLACK_BOT_TOKEN')).toThrowError(/Keep only SLACK_BOT_TOKEN_FILE/);
    const asDir = join(dir, 'grafana_password');
    mkdirSync(asDir, { recursive: true });
    expect(() => readSecret({ REDIS_PASSWORD_FILE: asDir }, 'REDIS_PASSWORD')).toThrowError(/is a directory/);
    expect(() => readSecret({ REDIS_PASSWORD_FILE: file('empty', '') }, 'REDIS_PASSWORD')).toThrowError(/is empty/);
  });

  it('reads only the Slack credential its mode uses, so the unused file may be empty', () => {
    const empty = file('unused', '');
    const token = file('bot', 'xoxb-1');
    const socket = buildConfig({ stack: { project: 'cdb' } }, { SLACK_BOT_TOKEN_FILE: token, SLACK_APP_TOKEN: 'xapp-1', SLACK_SIGNING_SECRET_FILE: empty });
    expect(socket.secrets).toMatchObject({ slackAppToken: 'xapp-1', slackSigningSecret: undefined });
    const http = buildConfig({ stack: { project: 'cdb' }, slack: { mode: 'http' } }, { SLACK_BOT_TOKEN_FILE: token, SLACK_APP_TOKEN_FILE: empty, SLACK_SIGNING_SECRET: 's' });
    expect(http.secrets).toMatchObject({ slackAppToken: undefined, slackSigningSecret: 's' });
    expect(() => buildConfig({ stack: { project: 'cdb' } }, { SLACK_APP_TOKEN_FILE: empty })).toThrowError(/is empty/);
  });

  it('names every Slack credential variable a worker environment holds', () => {
    expect(slackCredentialsIn({ SLACK_APP_TOKEN_FILE: '/x', SLACK_SIGNING_SECRET: 'y', REDIS_URL: 'z' })).toEqual(['SLACK_APP_TOKEN_FILE', 'SLACK_SIGNING_SECRET']);
  });

  it('never puts a secret value in a validation message', () => {
    const secret = file('t2', 'xoxb-very-secret');
    try {
      buildConfig({ stack: { project: 'BAD' } }, { SLACK_BOT_TOKEN_FILE: secret });
    } catch (err) {
      expect(String(err)).not.toContain('very-secret');
    }
  });
});
