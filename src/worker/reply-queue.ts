import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Notice, Reply } from '../shared/contracts/envelope.ts';
import { REPLIES_QUEUE } from '../shared/queue/names.ts';

/** The worker's only way to speak in Slack: a queue the bot consumes, so a bot restart loses nothing. */
export class ReplyQueue {
  private readonly queue: Queue<Reply>;
  private seq = 0;

  constructor(connection: Redis, prefix: string, onError: (err: Error) => void = () => undefined) {
    this.queue = new Queue<Reply>(REPLIES_QUEUE, { connection, prefix });
    this.queue.on('error', onError);
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

/**
 * The replies of one target's worker: results, errors and progress carry the target (the bot shows
 * it); notices (alerts, doctor reports) start with `[target]`, get a "Target:" line and a thread key
 * of their own per target.
 */
export class TargetReplyQueue extends ReplyQueue {
  constructor(connection: Redis, prefix: string, private readonly target: string, onError?: (err: Error) => void) {
    super(connection, prefix, onError);
  }

  override send(reply: Reply): Promise<void> {
    if (reply.type !== 'notice') return super.send({ ...reply, target: this.target });
    const t = this.target;
    return super.send({
      ...reply,
      key: `t-${t}:${reply.key}`.slice(0, 120),
      text: `[${t}] ${reply.text}`.slice(0, 4000),
      ...(reply.blocks ? { blocks: [{ type: 'context', elements: [{ type: 'mrkdwn', text: `Target: *${t}*` }] }, ...reply.blocks].slice(0, 50) } : {}),
    });
  }
}
