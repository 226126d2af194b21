import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Notice, Reply } from '../shared/contracts/envelope.ts';
import { REPLIES_QUEUE } from '../shared/queue/names.ts';

/** The worker's only way to speak in Slack: a queue the bot consumes, so a bot restart loses nothing. */
export class ReplyQueue {
  private readonly queue: Queue<Reply>;
  private seq = 0;

  constructor(connection: Redis, prefix: string) {
    this.queue = new Queue<Reply>(REPLIES_QUEUE, { connection, prefix });
  }

  async send(reply: Reply): Promise<void> {
    const id = reply.type === 'notice' ? `notice-${reply.key}` : reply.requestId;
    await this.queue.add(reply.type, reply, {
      jobId: `${id.replace(/:/g, '_')}-${reply.type}-${Date.now()}-${++this.seq}`,
      removeOnComplete: 1000,
      removeOnFail: 5000,
      attempts: 5,
      backoff: { type: 'exponential', delay: 500 },
    });
  }

  notify(notice: Omit<Notice, 'type'>): Promise<void> {
    return this.send({ type: 'notice', ...notice });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
