// The early ack's trade-off, proven on real processes: a bot killed between the ack of a command and
// its enqueue loses nothing silently. The ack's one Redis call recorded the request as accepted; the
// next bot tells the requester it was lost during a restart, and a normal request leaves no record.
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { REDIS_URL, SIGNING_SECRET } from '../support/harness.ts';
import { postSigned, signSlackRequest, slashCommandBody } from '../support/slack-sign.ts';
import { startSlackStandin, type SlackStandin } from '../support/slack-standin.ts';
import { freePort } from '../support/free-port.ts';
import { randomSuffix, waitFor } from '../support/compose-stack.ts';
import { JOBS_QUEUE } from '../../src/shared/queue/names.ts';

const VIEWER = 'U0ACKCRASH';
const CHANNEL = 'C0ACKCRASH';
const ROOT = resolve(import.meta.dirname, '../..');

interface BotChild {
  readonly child: ChildProcess;
  readonly url: string;
  output(): string;
}

async function spawnBot(configPath: string, slack: SlackStandin, extraEnv: Record<string, string> = {}): Promise<BotChild> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/bot.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', CDB_CONFIG: configPath, SLACK_MODE: 'http', PORT: String(port), SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: slack.apiUrl, REDIS_URL, LOG_LEVEL: 'info', HEALTH_PORT: '0', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  await waitFor(() => out.includes('"bot started"') || child.exitCode !== null, { what: 'the bot to start', timeoutMs: 90_000 });
  if (child.exitCode !== null) throw new Error(`the bot exited (${child.exitCode}) before starting:\n${out.slice(-2000)}`);
  return { child, url: `http://127.0.0.1:${port}/slack/events`, output: () => out };
}

async function stopBot(b: BotChild | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!b || b.child.exitCode !== null || b.child.signalCode !== null) return;
  const exited = new Promise((r) => b.child.once('exit', r));
  b.child.kill(signal);
  await exited;
}

async function command(url: string, text: string): Promise<{ status: number; text: string }> {
  const res = await postSigned(url, slashCommandBody({ text, user_id: VIEWER, channel_id: CHANNEL }), SIGNING_SECRET);
  const body = (await res.json().catch(() => ({}))) as { text?: string };
  return { status: res.status, text: body.text ?? '' };
}

const requestIdOf = (text: string): string => /request `([A-Za-z0-9_-]{8,})`/.exec(text)?.[1] ?? '';

describe('ack before enqueue: a bot killed in between (real bot processes, real Redis)', () => {
  let slack: SlackStandin;
  let dir: string;
  let configPath: string;
  let redis: Redis;
  let jobs: Queue;
  const prefix = `cdbt-${randomSuffix()}`;
  const bots: BotChild[] = [];

  beforeAll(async () => {
    slack = await startSlackStandin();
    dir = mkdtempSync(join(tmpdir(), 'cdbt-ackcrash-'));
    configPath = join(dir, 'cdb.yaml');
    writeFileSync(configPath, JSON.stringify({ stack: { project: `cdbt${randomSuffix()}` }, redis: { prefix }, roles: { viewer: { users: [VIEWER] } }, security: { rateLimits: { enabled: false } } }));
    redis = new Redis(REDIS_URL);
    jobs = new Queue(JOBS_QUEUE, { connection: redis, prefix: `${prefix}:q` });
  });

  afterAll(async () => {
    for (const b of bots) await stopBot(b, 'SIGKILL');
    await jobs?.close();
    if (redis) {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
    await slack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a bot killed after the ack and before the enqueue: the next bot tells the requester, once', async () => {
    const pauseDir = join(dir, 'pause');
    rmSync(pauseDir, { recursive: true, force: true });
    mkdirSync(pauseDir);
    const a = await spawnBot(configPath, slack, { CDB_TEST_PAUSE_AT: 'bot:acked', CDB_TEST_PAUSE_DIR: pauseDir });
    bots.push(a);
    const ack = await command(a.url, 'status');
    expect(ack.status).toBe(200);
    // The ack kept its content: the request id and what happens next.
    expect(ack.text).toContain('is on its way');
    const id = requestIdOf(ack.text);
    expect(id).not.toBe('');
    await waitFor(() => existsSync(join(pauseDir, 'bot_acked.reached')), { what: 'bot A to stop between ack and enqueue', timeoutMs: 30_000, intervalMs: 50 });

    // What the ack's one Redis call left: an accepted record with identifiers only, and no job.
    const raw = await redis.hget(`${prefix}:awaiting`, id);
    expect(raw).toBeTruthy();
    const record = JSON.parse(raw!) as Record<string, unknown>;
    expect(record).toMatchObject({ requestId: id, command: 'status', origin: { kind: 'slack', channel: CHANNEL }, queued: false });
    expect(Object.keys(record).sort()).toEqual(['approved', 'command', 'misses', 'origin', 'owner', 'queued', 'requestId', 'since']);
    expect(raw).not.toContain(SIGNING_SECRET);
    expect(raw).not.toContain('hooks.slack.com');

    await stopBot(a, 'SIGKILL');
    expect(await jobs.getJob(id)).toBeUndefined();

    const b = await spawnBot(configPath, slack);
    bots.push(b);
    const lost = await waitFor(
      () => slack.calls.find((c) => c.method === 'chat.postMessage' && c.args.channel === CHANNEL && JSON.stringify(c.args).includes(id)),
      { what: 'bot B to tell the requester the request was lost', timeoutMs: 90_000, intervalMs: 200 },
    );
    const said = JSON.stringify(lost.args);
    expect(said).toContain('lost during a bot restart');
    expect(said).toContain('Run it again');
    await waitFor(async () => (await redis.hexists(`${prefix}:awaiting`, id)) === 0, { what: 'the record to be removed', timeoutMs: 30_000 });
    expect(await jobs.getJob(id)).toBeUndefined();
    expect(b.output()).toContain('an acknowledged request was never queued');

    // Told once, and the bot still works normally: a command is acked, queued, and leaves no lost notice.
    const ok = await command(b.url, 'status');
    const okId = requestIdOf(ok.text);
    await waitFor(() => jobs.getJob(okId), { what: 'the next command to be queued', timeoutMs: 30_000 });
    // Its record now says queued (the lost-job watch waits on it for the worker's answer).
    await waitFor(async () => JSON.parse((await redis.hget(`${prefix}:awaiting`, okId)) ?? '{}').queued === true, { what: 'the record to say queued', timeoutMs: 30_000 });
    // An answer (help) leaves no record behind.
    const help = await command(b.url, 'help');
    expect(help.text).toContain('/cdb status');
    await waitFor(async () => {
      const all = await redis.hkeys(`${prefix}:awaiting`);
      return all.length === 1 && all[0] === okId;
    }, { what: 'only the queued request to be awaited', timeoutMs: 30_000 });
    expect(slack.calls.filter((c) => JSON.stringify(c.args).includes(id))).toHaveLength(1);
    await stopBot(b);
  }, 240_000);

  it('the gate reads the path as Bolt does: no way around it to Bolt, whose own check is off', async () => {
    const b = await spawnBot(configPath, slack);
    bots.push(b);
    const base = b.url.replace('/slack/events', '');
    const body = slashCommandBody({ text: 'status', user_id: VIEWER, channel_id: CHANNEL });
    const bad = { ...signSlackRequest(body, 'not-the-secret'), 'content-type': 'application/x-www-form-urlencoded' };
    // node:http sends `path` as written (fetch, or a URL string, would normalise the dot segments away).
    const post = (path: string) => new Promise<number>((done, fail) => {
      const { hostname, port } = new URL(base);
      const req = request({ hostname, port, path, method: 'POST', headers: bad }, (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0));
      });
      req.on('error', fail);
      req.end(body);
    });
    for (const path of ['/slack/events', '/slack/./events', '/slack/x/../events', '/slack/events#frag', '/slack/events?x=1', '//slack/events', '/slack/%65vents']) {
      expect([401, 404], path).toContain(await post(path));
    }
    for (const path of ['/slack/./events', '/slack/x/../events', '/slack/events#frag']) expect(await post(path), path).toBe(401);
    await stopBot(b);
  }, 120_000);
});
