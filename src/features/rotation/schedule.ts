import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../shared/config/schema.ts';
import type { JobEnvelope } from '../../shared/contracts/envelope.ts';
import { envelopeTarget, openJobsQueue } from '../../shared/queue/names.ts';

export const SECRETS_CHECK_ID = 'secrets-check';

/** The overdue check on `rotation.checkSchedule` (a cron pattern), on the target's own queue; removed when unset. */
export async function startSecretsCheckSchedule(config: Config, connection: Redis, log: Logger): Promise<void> {
  const queue = openJobsQueue(config, connection, log);
  try {
    const pattern = config.rotation.checkSchedule;
    if (!pattern) {
      await queue.removeJobScheduler(SECRETS_CHECK_ID);
      return;
    }
    const data: JobEnvelope = { requestId: 'schedule-secrets-check', command: 'secrets-check', args: {}, actor: { userId: 'local:scheduler', teamId: 'local', name: 'scheduler' }, origin: { kind: 'schedule' }, requestedAt: 0, ...envelopeTarget(config) };
    await queue.upsertJobScheduler(SECRETS_CHECK_ID, { pattern }, { name: 'secrets-check', data, opts: { removeOnComplete: 50, removeOnFail: 50 } });
    log.info({ pattern }, 'secret overdue check scheduled');
  } finally {
    await queue.close();
  }
}
