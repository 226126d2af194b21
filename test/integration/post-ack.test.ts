// Acks first, Redis after: enqueues wait while any request is still being acked, then go out together
// (one addBulk per queue), each announced as 'waiting' like Queue.add does. Real Redis and BullMQ.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { PostAck } from '../../src/bot/post-ack.ts';
import type { JobEnvelope } from '../../src/shared/contracts/envelope.ts';
import { REDIS_URL } from '../support/harness.ts';
import { randomSuffix } from '../support/compose-stack.ts';

const envelope = (requestId: string): JobEnvelope => ({ requestId, command: 'status', args: {}, actor: { userId: 'U0POSTACK', teamId: 'T0001' }, origin: { kind: 'slack', channel: 'C0POSTACK' }, requestedAt: Date.now() });

describe('PostAck: enqueue after the burst’s acks, batched', () => {
  const prefix = `cdbt-${randomSuffix()}`;
  let redis: Redis;
  let queue: Queue;

  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    queue = new Queue('jobs', { connection: redis, prefix: `${prefix}:q` });
  });
  afterAll(async () => {
    await queue.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('holds enqueues while a request waits for its ack, then adds them in one go', async () => {
    // A wait bound far beyond the test: only the end of the ack releases the enqueues.
    const post = new PostAck(600_000);
    const seen: string[] = [];
    queue.on('waiting', (job: Job) => seen.push(String(job.id)));
    const end = post.begin();
    const ids = ['pa-one-0001', 'pa-two-0002', 'pa-three-0003'];
    const added = ids.map((id) => post.enqueue(queue, 'status', envelope(id), { jobId: id, priority: 10 }));
    // Several round trips later, still nothing in Redis: the request is not acked yet.
    for (let i = 0; i < 5; i++) await redis.ping();
    expect(await queue.getJobCounts('waiting', 'prioritized')).toMatchObject({ waiting: 0, prioritized: 0 });
    end();
    end(); // idempotent
    const jobs = await Promise.all(added);
    expect(jobs.map((j) => j.id)).toEqual(ids);
    expect(await queue.getJobCounts('prioritized')).toMatchObject({ prioritized: 3 });
    expect(seen).toEqual(ids);
  });

  it('with nothing in flight, enqueues at once; a failing add is reported to its caller', async () => {
    const post = new PostAck(600_000);
    const job = await post.enqueue(queue, 'status', envelope('pa-now-0004'), { jobId: 'pa-now-0004' });
    expect(await queue.getJob(String(job.id))).toBeDefined();
    await expect(post.enqueue(queue, 'status', envelope('0'), { jobId: '0' })).rejects.toThrow(/[Ii]d/);
  });
});
