import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../shared/config/schema.ts';
import type { JobEnvelope } from '../../shared/contracts/envelope.ts';
import { envelopeTarget, openJobsQueue } from '../../shared/queue/names.ts';

export const DRILL_SCHEDULER_ID = 'drill';
/** No user path produces this request id: it marks scheduled drills (see isScheduledDrill). */
export const SCHEDULED_DRILL_ID = 'schedule-drill';
const SCHEDULER_ACTOR = 'local:scheduler';

export function isScheduledDrill(ctx: { readonly requestId: string; readonly actor: { readonly userId: string } }): boolean {
  return ctx.requestId === SCHEDULED_DRILL_ID && ctx.actor.userId === SCHEDULER_ACTOR;
}

function envelope(): JobEnvelope {
  return { requestId: SCHEDULED_DRILL_ID, command: 'drill', args: {}, actor: { userId: SCHEDULER_ACTOR, teamId: 'local', name: 'scheduler' }, origin: { kind: 'schedule' }, requestedAt: 0 };
}

/** Runs `drill` on `backup.drillSchedule` (cron), or removes the schedule when there is none. */
export async function startDrillSchedule(config: Config, connection: Redis, log: Logger): Promise<void> {
  const queue = openJobsQueue(config, connection, log);
  try {
    const pattern = config.backup.drillSchedule;
    if (!pattern) {
      if (await queue.removeJobScheduler(DRILL_SCHEDULER_ID)) log.info('drill schedule removed (backup.drillSchedule is not set)');
      return;
    }
    await queue.upsertJobScheduler(DRILL_SCHEDULER_ID, { pattern }, { name: 'drill', data: { ...envelope(), ...envelopeTarget(config) }, opts: { removeOnComplete: 50, removeOnFail: 50 } });
    log.info({ pattern }, 'drill scheduled');
  } finally {
    await queue.close();
  }
}
