// A Redis of the test's own, stopped and started again under a running bot and worker: requests whose
// jobs vanished (no persistence) are answered as lost, and an outage is one warning, not a stack trace storm.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/shared/log.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { startOwnRedis, type OwnRedis } from '../support/own-redis.ts';
import { randomSuffix, waitFor } from '../support/compose-stack.ts';
import { finalReplyTo, flatText } from '../support/final-reply.ts';

const VIEWER = 'U0VIEWER1';
const CHANNEL = 'C2147483705';

interface LogLine { level: string; msg: string; err?: { message?: string; stack?: string }; [k: string]: unknown }

function capture(): { lines: LogLine[]; raw: string[]; stream: Writable } {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) {
        raw.push(l);
        lines.push(JSON.parse(l) as LogLine);
      }
      done();
    },
  });
  return { lines, raw, stream };
}

describe('Redis restarted under a running bot', () => {
  let redis: OwnRedis;
  let h: Harness | undefined;

  beforeAll(async () => {
    redis = await startOwnRedis({ persistence: 'none' });
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
    vi.restoreAllMocks();
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('tells the requester when a job it was waiting for is lost, and says it can be retried', async () => {
    h = await startHarness({ redisUrl: redis.url, worker: false, file: { stack: { project: `cdbt${randomSuffix()}` }, redis: { prefix: `cdbt-${randomSuffix()}` }, roles: { viewer: { users: [VIEWER] } } } });
    const res = await h.slash('status', { user_id: VIEWER });
    const ack = (await res.json()) as { text: string };
    expect(ack.text).toContain('on its way');
    // No worker runs: the job waits in Redis, which now forgets everything.
    await redis.restart();
    const lost = await waitFor(() => [...(h as Harness).slack.messages.values()].find((m) => m.channel === CHANNEL && /was lost/.test(flatText(m))), { what: 'the lost-request message', timeoutMs: 120_000 });
    expect(lost.text).toContain('/cdb status');
    expect(flatText(lost)).toMatch(/run it again/i);
    expect(flatText(lost)).toContain('JOB_LOST');
    // Said once: the request is no longer awaited, so no later check can report it again.
    expect(await h.redis.hlen(`${h.config.redis.prefix}:awaiting`)).toBe(0);
    expect([...h.slack.messages.values()].filter((m) => /was lost/.test(flatText(m)))).toHaveLength(1);
  });

  it('prints one warning per outage per connection, no stack traces', async () => {
    const { lines, raw, stream } = capture();
    const consoleCalls: unknown[][] = [];
    for (const fn of ['error', 'warn', 'log'] as const) vi.spyOn(console, fn).mockImplementation((...args: unknown[]) => { consoleCalls.push(args); });
    const log = createLogger({ level: 'debug', destination: stream });
    h = await startHarness({ redisUrl: redis.url, log, file: { stack: { project: `cdbt${randomSuffix()}` }, redis: { prefix: `cdbt-${randomSuffix()}` }, roles: { viewer: { users: [VIEWER] } } } });
    // Everything is up: a command goes through.
    await finalReplyTo(h.slack, () => (h as Harness).slash('status', { user_id: VIEWER }));
    const mark = lines.length;

    await redis.stop();
    // Let the outage last: several failed reconnects of a client of our own.
    const probe = new Redis(redis.url, { maxRetriesPerRequest: null, retryStrategy: () => 200 });
    let failures = 0;
    probe.on('error', () => { failures += 1; });
    await waitFor(() => failures >= 10, { what: 'ten failed reconnects', timeoutMs: 60_000 });
    await waitFor(() => lines.slice(mark).filter((l) => l.msg === 'Redis connection lost; reconnecting').length >= 2, { what: 'bot and worker to notice', timeoutMs: 60_000 });
    probe.disconnect();
    await redis.start();
    await waitFor(() => lines.slice(mark).filter((l) => l.msg === 'Redis connection restored').length >= 2, { what: 'bot and worker to reconnect', timeoutMs: 60_000 });
    // And work again.
    await finalReplyTo(h.slack, () => (h as Harness).slash('status', { user_id: VIEWER }));

    const during = lines.slice(mark);
    const loud = during.filter((l) => l.level === 'warn' || l.level === 'error' || l.level === 'fatal');
    expect(loud.map((l) => l.msg)).toEqual(['Redis connection lost; reconnecting', 'Redis connection lost; reconnecting']);
    expect(raw.slice(mark).filter((l) => /\\n\s+at |"stack":"[^"]/.test(l))).toEqual([]);
    expect(consoleCalls.map((a) => String(a[0]).slice(0, 200))).toEqual([]);
  });

  it("/cdb doctor warns when cdb's own Redis persists nothing, and not when it runs with AOF", async () => {
    const file = () => ({ stack: { project: `cdbt${randomSuffix()}` }, redis: { prefix: `cdbt-${randomSuffix()}` }, roles: { viewer: { users: [VIEWER] } } });
    h = await startHarness({ redisUrl: redis.url, file: file() });
    const bare = await finalReplyTo(h.slack, () => (h as Harness).slash('doctor ports', { user_id: VIEWER }));
    // The summary names it (`redis`); its detail and fix are in the thread, like every finding's.
    expect(flatText(bare)).toContain('`redis`');
    const detail = await waitFor(() => [...(h as Harness).slack.messages.values()].find((m) => m.thread_ts === bare.ts && flatText(m).includes("cdb's own Redis persists nothing")), { what: 'the persistence finding in the thread' });
    expect(flatText(detail)).toContain('--appendonly yes');
    await h.close();
    h = undefined;
    const aof = await startOwnRedis({ persistence: 'aof' });
    try {
      h = await startHarness({ redisUrl: aof.url, file: file() });
      const kept = await finalReplyTo(h.slack, () => (h as Harness).slash('doctor ports', { user_id: VIEWER }));
      expect(flatText(kept)).toMatch(/^Doctor /);
      expect(flatText(kept)).not.toContain('`redis`');
      expect([...h.slack.messages.values()].filter((m) => flatText(m).includes("cdb's own Redis"))).toEqual([]);
      await h.close();
      h = undefined;
    } finally {
      await aof.close();
    }
  });
});
