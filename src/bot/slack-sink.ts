import type { WebClient } from '@slack/web-api';
import type { Redis } from 'ioredis';
import { defang, type Block } from '../shared/render/blocks.ts';
import type { Notice, Reply } from '../shared/contracts/envelope.ts';
import type { Registry } from '../shared/registry/registry.ts';
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
    private readonly alertsChannel?: string,
  ) {}

  async deliver(reply: Reply): Promise<void> {
    if (reply.type === 'notice') return this.notice(reply);
    const channel = reply.origin.channel;
    if (reply.origin.kind !== 'slack' || !channel) return;
    const key = `${this.keyPrefix}:reply:${reply.requestId}`;
    const state = await this.redis.hgetall(key);
    if (state.done && reply.type === 'progress') return;
    // Renderers escape what users typed; defang is the net for whatever one forgot (file contents excepted).
    const { file, ...rest } = replyToSlack(reply, this.registry);
    const message = { ...defang(rest), file: file && { ...file, title: defang(file.title ?? file.filename) } };
    let ts = state.ts;
    if (ts) {
      await this.client.chat.update({ channel, ts, text: message.text, blocks: message.blocks });
    } else {
      const posted = await this.client.chat.postMessage({ channel, thread_ts: reply.origin.threadTs, text: message.text, blocks: message.blocks, unfurl_links: false });
      ts = posted.ts;
      if (posted.ts) await this.redis.hset(key, 'ts', posted.ts);
    }
    if (message.file && !state.file) {
      // Long output goes into the thread as a file; `file` in the state keeps a retry from uploading twice.
      const { filename, content, title } = message.file;
      const thread = reply.origin.threadTs ?? ts;
      const where = thread ? { channel_id: channel, thread_ts: thread } : { channel_id: channel };
      await this.client.files.uploadV2({ ...where, filename: defang(filename), title, content });
      await this.redis.hset(key, 'file', '1');
    }
    const thread = reply.origin.threadTs ?? ts;
    if (message.thread?.length && thread) {
      // Details under a one-screen summary; `posted` counts what a retried delivery already sent.
      for (const [i, part] of message.thread.entries()) {
        if (i < Number(state.posted ?? 0)) continue;
        await this.client.chat.postMessage({ channel, thread_ts: thread, text: part.text, blocks: part.blocks, unfurl_links: false });
        await this.redis.hset(key, 'posted', String(i + 1));
      }
    }
    if (reply.type !== 'progress') await this.redis.hset(key, 'done', '1');
    await this.redis.expire(key, STATE_TTL_S);
  }

  /** Alerts and reports: one root message per key, edited in place, with replies in its thread. */
  private async notice(n: Notice): Promise<void> {
    const channel = n.channel ?? this.alertsChannel;
    if (!channel) return;
    const key = `${this.keyPrefix}:notice:${channel}:${n.key}`;
    const rootTs = await this.redis.get(key);
    const blocks = defang(n.blocks as Block[] | undefined);
    n = { ...n, text: defang(n.text) };
    if (rootTs && n.action === 'update-root') {
      await this.client.chat.update({ channel, ts: rootTs, text: n.text, blocks });
    } else if (rootTs && n.action === 'thread') {
      await this.client.chat.postMessage({ channel, thread_ts: rootTs, text: n.text, blocks, unfurl_links: false });
    } else {
      const posted = await this.client.chat.postMessage({ channel, text: n.text, blocks, unfurl_links: false });
      if (posted.ts) await this.redis.set(key, posted.ts, 'EX', 30 * 24 * 3600);
    }
  }
}
