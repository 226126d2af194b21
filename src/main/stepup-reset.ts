import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import { AuditLog } from '../shared/audit/audit.ts';
import { connectRedis, keyPrefix } from '../shared/queue/names.ts';
import { TotpVault } from '../bot/totp-vault.ts';
import { newRequestId } from '../bot/dispatch.ts';

export interface StepUpResetOptions {
  readonly argv: string[];
  readonly loadConfig: () => Config;
  readonly user: string;
  readonly log: Logger;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/**
 * `cdb stepup reset <user ID>`: forgets an approver's one-time code enrollment (a lost phone), so they
 * enroll again from Slack. Only from the bot host: chat cannot replace an enrollment.
 */
export async function runStepUpReset(opts: StepUpResetOptions): Promise<number> {
  const target = opts.argv[0] ?? '';
  if (!/^[UW][A-Z0-9]{2,}$/.test(target) || opts.argv.length !== 1) {
    opts.stderr.write('cdb: usage: cdb stepup reset <Slack user ID, e.g. U012ABCDEF>\n');
    return 2;
  }
  const config = opts.loadConfig();
  const redis = connectRedis(config);
  try {
    await new TotpVault(redis, keyPrefix(config), config.secrets.stepUpKey ?? '', config.security.stepUp).reset(target);
    const audit = new AuditLog(redis, opts.log, `${keyPrefix(config)}:audit`, config.audit.streamMaxLen, config.secrets.auditKey);
    const actor = { userId: `local:${opts.user.toLowerCase().replace(/[^a-z0-9_-]/g, '') || 'user'}`, teamId: 'local' };
    await audit.record({ requestId: newRequestId(), command: 'stepup-reset', args: { user: target }, actor, via: 'cli', outcome: 'succeeded' });
    opts.stdout.write(`One-time code enrollment of ${target} removed; they can run /cdb enroll again.\n`);
    return 0;
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}
