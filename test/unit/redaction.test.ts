import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactText } from '../../src/shared/log.ts';
import { redactArgs } from '../../src/shared/audit/audit.ts';
import { toUserError, OpsError } from '../../src/shared/errors.ts';
import { buildConfig } from '../../src/shared/config/load.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return { lines, log: createLogger({ level: 'info', destination }) };
}

describe('secrets stay out of logs and chat', () => {
  it('pino redacts token, password and env fields', () => {
    const { lines, log } = capture();
    log.info({ token: 'xoxb-1', config: { password: 'hunter2' }, headers: { authorization: 'Bearer abc' }, Config: { Env: ['A=1'] } }, 'x');
    const out = lines.join('');
    for (const secret of ['xoxb-1', 'hunter2', 'Bearer abc', 'A=1']) expect(out).not.toContain(secret);
    expect(out).toContain('[REDACTED]');
  });

  it('pino redacts the config\'s own secrets (config.secrets), wherever the config is logged', () => {
    const { lines, log } = capture();
    const env = { SLACK_BOT_TOKEN: 'xoxb-9-botsecret', SLACK_APP_TOKEN: 'xapp-9-appsecret', SLACK_SIGNING_SECRET: 'f00dsigningsecret', REDIS_PASSWORD: 'r3dispassw0rd' };
    const config = buildConfig({ stack: { project: 'cdb' } }, env);
    log.info(config, 'as the root object');
    log.info({ config }, 'one level down');
    log.info({ deps: { config } }, 'two levels down');
    const out = lines.join('');
    for (const secret of ['botsecret', 'appsecret', 'f00dsigningsecret', 'r3dispassw0rd']) expect(out).not.toContain(secret);
    expect(out).toContain('[REDACTED]');
  });

  it('masks Slack tokens inside free text', () => {
    expect(redactText('invalid token xoxb-1234-abcd given')).toBe('invalid token xoxb-[REDACTED] given');
    // Token rotation: refresh tokens are xoxe-…, rotating access tokens xoxe.xoxb-…
    expect(redactText('refresh xoxe-1-My0xNzAyOTk2-abcd given')).not.toContain('My0xNzAyOTk2');
    expect(redactText('access xoxe.xoxb-1-My0xNzAyOTk2-abcd given')).not.toContain('My0xNzAyOTk2');
  });

  it('redacts secret-looking audit arguments', () => {
    expect(redactArgs({ service: 'web', password: 'p', apiKey: 'k' })).toEqual({ service: 'web', password: '[REDACTED]', apiKey: '[REDACTED]' });
  });

  it('shows users OpsError messages and nothing of other errors', () => {
    expect(toUserError(new OpsError('FORBIDDEN', 'no'))).toEqual({ code: 'FORBIDDEN', message: 'no' });
    const internal = toUserError(new Error('connect ECONNREFUSED redis://:hunter2@x'), 'req1');
    expect(internal.code).toBe('INTERNAL');
    expect(internal.message).not.toContain('hunter2');
    expect(internal.message).toContain('req1');
  });
});
