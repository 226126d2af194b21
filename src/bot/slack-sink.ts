import type { WebClient } from '@slack/web-api';
import type { Redis } from 'ioredis';
import type { Reply } from '../contracts/envelope.ts';
import type { Registry } from '../registry/registry.ts';
import type { ReplySink } from './reply-consumer.ts';
import { replyToSlack } from './render-reply.ts';

const STATE_TTL_S = 24 * 3600;

/**
 * Posts replies to the channel the command came from. The first message of a request is posted,
 * later ones update it in place, so progress turns into the result instead of piling up.
 * The message ts lives in Redis, so a restarted bot keeps updating the same message.
 */
export class SlackSink implements ReplySink {
  constructor(
    private readonly client: WebClient,
    private readonly redis: Redis,
    private readonly registry: Registry,
    private readonly keyPrefix: string,
  ) {}

  async deliver(reply: Reply): Promise<void> {
    const channel = reply.origin.channel;
    if (reply.origin.kind !== 'slack' || !channel) return;
    const key = `${this.keyPrefix}:reply:${reply.requestId}`;
    const state = await this.redis.hgetall(key);
    if (state.done && reply.type === 'progress') return;
    const message = replyToSlack(reply, this.registry);
    if (state.ts) {
      await this.client.chat.update({ channel, ts: state.ts, text: message.text, blocks: message.blocks });
    } else {
      const posted = await this.client.chat.postMessage({ channel, thread_ts: reply.origin.threadTs, text: message.text, blocks: message.blocks, unfurl_links: false });
      if (posted.ts) await this.redis.hset(key, 'ts', posted.ts);
    }
    if (reply.type !== 'progress') await this.redis.hset(key, 'done', '1');
    await this.redis.expire(key, STATE_TTL_S);
  }
}
