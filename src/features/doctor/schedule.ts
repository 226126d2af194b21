import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../shared/config/schema.ts';
import type { JobEnvelope } from '../../shared/contracts/envelope.ts';
import { envelopeTarget, openJobsQueue } from '../../shared/queue/names.ts';

export const DOCTOR_SCHEDULER_ID = 'doctor';
/** No user path produces this request id (the bot and the CLI draw random ones): it marks scheduled runs. */
export const SCHEDULED_REQUEST_ID = 'schedule-doctor';
export const SCHEDULER_ACTOR = 'local:scheduler';

/**
 * The job the scheduler enqueues: a system actor, origin `schedule`, and the arguments of a plain
 * `doctor`, so the approval gate (which parses them with the command's schema) sees a read-only run.
 */
export function scheduledEnvelope(): JobEnvelope {
  return {
    requestId: SCHEDULED_REQUEST_ID,
    command: 'doctor',
    args: {},
    actor: { userId: SCHEDULER_ACTOR, teamId: 'local', name: 'scheduler' },
    origin: { kind: 'schedule' },
    requestedAt: 0,
  };
}

/**
 * Makes the jobs queue run `doctor` on `doctor.schedule` (a cron pattern), or stops it when the
 * config has none. BullMQ keeps the scheduler in Redis, so one upsert at worker start is enough and
 * several workers starting at once still yield one schedule.
 */
/** Jobs see no origin, so a scheduled run is recognised by the ids only the scheduler uses. */
export function isScheduledRun(ctx: { readonly requestId: string; readonly actor: { readonly userId: string } }): boolean {
  return ctx.requestId === SCHEDULED_REQUEST_ID && ctx.actor.userId === SCHEDULER_ACTOR;
}

export async function startDoctorSchedule(config: Config, connection: Redis, log: Logger): Promise<void> {
  const queue = openJobsQueue(config, connection, log);
  try {
    const pattern = config.doctor.schedule;
    if (!pattern) {
      if (await queue.removeJobScheduler(DOCTOR_SCHEDULER_ID)) log.info('doctor schedule removed (doctor.schedule is not set)');
      return;
    }
    await queue.upsertJobScheduler(DOCTOR_SCHEDULER_ID, { pattern }, {
      name: 'doctor',
      data: { ...scheduledEnvelope(), ...envelopeTarget(config) },
      opts: { removeOnComplete: 50, removeOnFail: 50 },
    });
    log.info({ pattern }, 'doctor scheduled');
  } finally {
    await queue.close();
  }
}
