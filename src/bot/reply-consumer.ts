import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { replySchema, type Reply } from '../shared/contracts/envelope.ts';
import { REPLIES_QUEUE } from '../shared/queue/names.ts';

/** Where replies end up: Slack for the real bot, a terminal for the local demo. */
export interface ReplySink {
  deliver(reply: Reply): Promise<void>;
}

/**
 * Consumes the worker's replies. One at a time on purpose: a progress message and the result
 * that replaces it must be handled in order, and Slack allows about one post per second per channel.
 */
export function startReplyConsumer(opts: { connection: Redis; prefix: string; sink: ReplySink; log: Logger }): Worker {
  const worker = new Worker(
    REPLIES_QUEUE,
    async (job: Job) => {
      const parsed = replySchema.safeParse(job.data);
      if (!parsed.success) {
        opts.log.error({ jobId: job.id }, 'dropping malformed reply');
        return;
      }
      await opts.sink.deliver(parsed.data);
    },
    { connection: opts.connection, prefix: opts.prefix, concurrency: 1 },
  );
  worker.on('failed', (job, err) => opts.log.warn({ jobId: job?.id, err }, 'reply delivery failed; BullMQ will retry'));
  return worker;
}
