import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { replySchema, type Reply } from '../shared/contracts/envelope.ts';
import { REPLIES_QUEUE } from '../shared/queue/names.ts';
import { KeyedSerializer, threadKey } from './thread-order.ts';

/** Where replies end up: Slack for the real bot, a terminal for the local demo. */
export interface ReplySink {
  deliver(reply: Reply): Promise<void>;
}

/** Replies handled at once; each thread still sees its replies one at a time, in order. */
export const REPLY_CONCURRENCY = 16;

/**
 * Waits between in-process attempts of one delivery (the Slack client retries each call a bounded
 * few times itself). The thread waits behind its failing reply, so its order holds; other threads go on.
 * About two minutes in all, then the reply is dropped and logged: a Slack outage longer than that loses it.
 */
export const DELIVERY_BACKOFF_MS: readonly number[] = [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000];

/** Errors no retry can fix: Slack answered and said no (invalid_blocks, channel_not_found, …). */
function permanent(err: unknown): boolean {
  const e = err as { code?: string } | null;
  return e?.code === 'slack_webapi_platform_error' || e?.code === 'slack_webapi_file_upload_invalid_args_error';
}

export interface ReplyConsumerOptions {
  connection: Redis;
  prefix: string;
  sink: ReplySink;
  log: Logger;
  concurrency?: number;
  backoffMs?: readonly number[];
  /** Reports an error event of the BullMQ worker (Redis outages: one warning each, see connectRedis). */
  onError?: (err: Error) => void;
}

/**
 * Consumes the worker's replies, many at a time, one at a time per thread (KeyedSerializer): a progress
 * message and the result that replaces it stay in order, and one failing thread (an archived channel,
 * a Slack hiccup) no longer holds every other reply behind it.
 */
export function startReplyConsumer(opts: ReplyConsumerOptions): Worker {
  const order = new KeyedSerializer();
  const backoff = opts.backoffMs ?? DELIVERY_BACKOFF_MS;
  // A bot shutting down stops waiting between attempts: the reply goes back to the queue (BullMQ
  // attempts) for the next bot, instead of holding the shutdown for minutes.
  const closing = new AbortController();
  const pause = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    closing.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
  const deliver = async (reply: Reply, jobId: string | undefined): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      try {
        await opts.sink.deliver(reply);
        return;
      } catch (err) {
        const wait = backoff[attempt];
        if (permanent(err) || wait === undefined) {
          opts.log.warn({ jobId, err: { message: (err as Error).message } }, permanent(err) ? 'reply refused by Slack; dropped' : 'reply not delivered after retries; dropped');
          throw new UnrecoverableError((err as Error).message);
        }
        if (closing.signal.aborted) throw err;
        if (attempt === 0) opts.log.warn({ jobId, err: { message: (err as Error).message } }, 'reply delivery failed; retrying (this thread waits, others go on)');
        await pause(wait);
      }
    }
  };
  const worker = new Worker(
    REPLIES_QUEUE,
    async (job: Job) => {
      const parsed = replySchema.safeParse(job.data);
      if (!parsed.success) {
        opts.log.error({ jobId: job.id }, 'dropping malformed reply');
        return;
      }
      const reply = parsed.data;
      await order.run(threadKey(reply), () => deliver(reply, job.id));
    },
    { connection: opts.connection, prefix: opts.prefix, concurrency: opts.concurrency ?? REPLY_CONCURRENCY },
  );
  worker.on('closing', () => closing.abort());
  worker.on('error', (err) => (opts.onError ? opts.onError(err) : opts.log.warn({ err: { message: err.message } }, 'reply consumer error')));
  return worker;
}
