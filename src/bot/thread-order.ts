import type { Reply } from '../shared/contracts/envelope.ts';

/**
 * Runs tasks one after another per key and concurrently across keys: the replies of one thread keep
 * their order while other threads keep moving. A failed task does not stop the ones behind it.
 */
export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with work queued or running (for tests and metrics). */
  get busy(): number {
    return this.tails.size;
  }
}

/**
 * What must stay in order: one request's progress and result (they edit one message), everything in
 * one Slack thread (an approval's thread, an incident's root and replies).
 */
export function threadKey(reply: Reply): string {
  if (reply.type === 'notice') return `notice:${reply.channel ?? '-'}:${reply.key}`;
  const where = reply.origin.channel ?? reply.origin.kind;
  return reply.origin.threadTs ? `thread:${where}:${reply.origin.threadTs}` : `request:${where}:${reply.requestId}`;
}
