import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startHarness, REDIS_URL, SIGNING_SECRET, type Harness } from '../support/harness.ts';
import { blockActionsBody, postSigned, signSlackRequest, slashCommandBody } from '../support/slack-sign.ts';
import { startSlackStandin, type SlackStandin } from '../support/slack-standin.ts';
import { freePort } from '../support/free-port.ts';
import { randomSuffix, waitFor } from '../support/compose-stack.ts';
import { JOBS_QUEUE, queuePrefix } from '../../src/shared/queue/names.ts';

const VIEWER = 'U0VIEWER1';
const ROOT = resolve(import.meta.dirname, '../..');

async function auditRows(redis: Redis, prefix: string): Promise<Record<string, unknown>[]> {
  const rows = await redis.xrange(`${prefix}:audit`, '-', '+');
  return rows.map(([, f]) => JSON.parse(f[1] ?? '{}') as Record<string, unknown>);
}

describe('signed requests: replay, clock skew and event retries against the running bot', () => {
  let h: Harness;
  let jobs: Queue;

  beforeAll(async () => {
    h = await startHarness({ worker: false, file: { roles: { viewer: { users: [VIEWER] } } } });
    jobs = new Queue(JOBS_QUEUE, { connection: h.redis, prefix: queuePrefix(h.config) });
  });
  afterAll(async () => {
    await jobs?.close();
    await h?.close();
  });

  it('runs a replayed /cdb status once, answers the replays 200 with nothing done, and audits them', async () => {
    const body = slashCommandBody({ text: 'status', user_id: VIEWER, response_url: h.slack.responseUrl('replay') });
    const ts = Math.floor(Date.now() / 1000);
    const first = await postSigned(h.eventsUrl, body, SIGNING_SECRET, { timestampSec: ts });
    expect(first.status).toBe(200);
    const firstText = ((await first.json()) as { text: string }).text;
    expect(firstText).toContain('is on its way');
    for (let i = 0; i < 2; i++) {
      const again = await postSigned(h.eventsUrl, body, SIGNING_SECRET, { timestampSec: ts });
      expect(again.status).toBe(200);
      expect(await again.text()).toBe('');
    }
    // Enqueued after the ack (post-ack.ts): wait for the first one's job, then count.
    await waitFor(() => jobs.getJob(String(/request `([^`]+)`/.exec(firstText)?.[1])), { what: 'the first request\'s job', timeoutMs: 30_000 });
    const counts = await jobs.getJobCounts('waiting', 'prioritized', 'active', 'completed', 'failed', 'delayed');
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(1);
    const rows = await waitFor(async () => {
      const r = (await auditRows(h.redis, h.config.redis.prefix)).filter((e) => e.code === 'REPLAYED');
      return r.length === 2 ? r : undefined;
    }, { what: 'two REPLAYED audit entries', timeoutMs: 30_000 });
    expect(rows[0]).toMatchObject({ command: 'status', outcome: 'rejected', actor: { userId: VIEWER } });
  });

  it('refuses timestamps more than 5 minutes away in either direction, and a bad signature', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const offset of [10 * 60, 5 * 60 + 30, -(5 * 60 + 30), -10 * 60]) {
      const res = await postSigned(h.eventsUrl, slashCommandBody({ text: 'help', user_id: VIEWER }), SIGNING_SECRET, { timestampSec: now + offset });
      expect(res.status, `offset ${offset}s`).toBe(401);
    }
    const forged = await postSigned(h.eventsUrl, slashCommandBody({ text: 'help' }), 'not-the-secret');
    expect(forged.status).toBe(401);
    // Within the window (a little clock skew either way) is fine.
    for (const offset of [-60, 60]) {
      const ok = await postSigned(h.eventsUrl, slashCommandBody({ text: 'help', user_id: VIEWER }), SIGNING_SECRET, { timestampSec: now + offset });
      expect(ok.status).toBe(200);
    }
  });

  it('drops Slack retries of an event by event id, and treats a retry differently from a replay', async () => {
    let seen = 0;
    h.bot.app.event('app_mention', async () => {
      seen += 1;
    });
    const event = { token: 'x', team_id: 'T0001', api_app_id: 'A123456', type: 'event_callback', event_id: `Ev${randomSuffix()}`, event_time: 1,
      event: { type: 'app_mention', user: VIEWER, text: '<@U0CDBBOT> hi', ts: '1.000100', channel: 'C2147483705', event_ts: '1.000100' } };
    const body = JSON.stringify(event);
    const first = await postSigned(h.eventsUrl, body, SIGNING_SECRET, { contentType: 'application/json' });
    expect(first.status).toBe(200);
    await waitFor(() => seen === 1, { what: 'the event listener to run', timeoutMs: 30_000 });
    const mark = (await auditRows(h.redis, h.config.redis.prefix)).length;
    // Slack's retry: signed anew (another timestamp), same event id, retry headers.
    const retry = await postSigned(h.eventsUrl, body, SIGNING_SECRET, { contentType: 'application/json', timestampSec: Math.floor(Date.now() / 1000) - 2, headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } });
    expect(retry.status).toBe(200);
    // Something that is not Slack's retry: the same event id without retry headers.
    const copy = await postSigned(h.eventsUrl, body, SIGNING_SECRET, { contentType: 'application/json', timestampSec: Math.floor(Date.now() / 1000) - 3 });
    expect(copy.status).toBe(200);
    const rows = await waitFor(async () => {
      const r = (await auditRows(h.redis, h.config.redis.prefix)).slice(mark).filter((e) => e.code === 'REPLAYED');
      return r.length ? r : undefined;
    }, { what: 'the copied event to be audited', timeoutMs: 30_000 });
    expect(rows).toHaveLength(1);
    expect(seen).toBe(1);
  });
});

/** Bodies Slack never sends, each correctly signed. */
function malformed(): { name: string; body: string | Buffer; contentType?: string }[] {
  const form = 'application/x-www-form-urlencoded';
  const json = 'application/json';
  const p = (v: unknown): string => `payload=${encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v))}`;
  const user = { id: VIEWER, team_id: 'T0001' };
  return [
    { name: 'payload=null', body: 'payload=null' },
    { name: 'JSON null', body: 'null', contentType: json },
    { name: 'JSON array', body: '[]', contentType: json },
    { name: 'JSON number', body: '42', contentType: json },
    { name: 'JSON string', body: '"hi"', contentType: json },
    { name: 'JSON {}', body: '{}', contentType: json },
    { name: 'broken JSON', body: '{"type":', contentType: json },
    { name: 'event without id', body: JSON.stringify({ type: 'event_callback', event: { type: 'app_mention' } }), contentType: json },
    { name: 'url_verification without challenge', body: JSON.stringify({ type: 'url_verification' }), contentType: json },
    { name: 'payload=[]', body: p([]) },
    { name: 'payload="x"', body: p('"x"') },
    { name: 'payload=true', body: p('true') },
    { name: 'payload={}', body: p({}) },
    { name: 'payload broken', body: 'payload=%7B' },
    { name: 'two payloads', body: `${p({ type: 'block_actions', user, actions: [{ action_id: 'a' }] })}&${p({})}` },
    { name: 'block_actions without user', body: blockActionsBody({ type: 'block_actions', actions: [{ action_id: 'cdb_approve', value: 'x' }] }) },
    { name: 'block_actions user null', body: blockActionsBody({ type: 'block_actions', user: null, actions: [{ action_id: 'cdb_approve', value: 'x' }] }) },
    { name: 'block_actions object value', body: blockActionsBody({ type: 'block_actions', user, actions: [{ action_id: 'cdb_approve', value: { id: 'x' } }] }) },
    { name: 'block_actions actions object', body: blockActionsBody({ type: 'block_actions', user, actions: { action_id: 'cdb_approve' } }) },
    { name: 'block_actions no actions', body: blockActionsBody({ type: 'block_actions', user, actions: [] }) },
    { name: 'view_submission without view', body: blockActionsBody({ type: 'view_submission', user }) },
    { name: 'view_submission state not object', body: blockActionsBody({ type: 'view_submission', user, view: { id: 'V1', callback_id: 'x', state: { values: 'nope' } } }) },
    { name: 'unknown interactive type', body: blockActionsBody({ type: 'nonsense', user }) },
    { name: 'empty form', body: '' },
    { name: 'slash without user', body: 'command=%2Fcdb&text=status&team_id=T0001&channel_id=C1' },
    { name: 'slash with repeated user', body: `${slashCommandBody({ text: 'status', user_id: VIEWER })}&user_id=U0OTHER1` },
    { name: 'slash with user array-ish', body: slashCommandBody({ text: 'help' }).replace('user_id=', 'user_id[]=') },
    { name: 'text/plain', body: 'hello', contentType: 'text/plain' },
    { name: 'no content type', body: slashCommandBody({ text: 'help' }), contentType: '' },
    { name: 'invalid UTF-8', body: Buffer.from([0x70, 0x61, 0x79, 0x6c, 0x6f, 0x61, 0x64, 0x3d, 0xff, 0xfe, 0x7b]) },
    { name: 'too large', body: `payload=${'a'.repeat(300 * 1024)}` },
  ].map((c) => ({ ...c, contentType: c.contentType ?? form }));
}

describe('malformed signed bodies against the bot process (npm run start:bot, HTTP mode)', () => {
  let slack: SlackStandin;
  let child: ChildProcess;
  let url: string;
  let dir: string;
  let stderr = '';
  let stdout = '';
  const prefix = `cdbt-${randomSuffix()}`;

  beforeAll(async () => {
    slack = await startSlackStandin();
    dir = mkdtempSync(join(tmpdir(), 'cdbt-gate-'));
    const configPath = join(dir, 'cdb.yaml');
    writeFileSync(configPath, JSON.stringify({ stack: { project: `cdbt${randomSuffix()}` }, redis: { prefix }, roles: { viewer: { users: [VIEWER] } } }));
    const port = await freePort();
    url = `http://127.0.0.1:${port}/slack/events`;
    // node itself, not `npx tsx`: npx's own child would outlive a kill of npx and leak the bot.
    child = spawn(process.execPath, ['--import', 'tsx', 'src/main/bot.ts'], {
      cwd: ROOT,
      env: { ...process.env, CDB_CONFIG: configPath, SLACK_MODE: 'http', PORT: String(port), SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: slack.apiUrl, REDIS_URL, LOG_LEVEL: 'info', HEALTH_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    await waitFor(() => stdout.includes('bot started') || child.exitCode !== null, { what: 'the bot to start', timeoutMs: 90_000 });
    expect(child.exitCode, stderr).toBeNull();
  });

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      // A bot that does not stop on SIGTERM is killed: nothing outlives the file.
      const hard = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(hard);
    }
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    await slack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers each with 400 (413 when too large), never 500, logs each once, and keeps answering', async () => {
    const cases = malformed();
    for (const c of cases) {
      const raw = typeof c.body === 'string' ? c.body : c.body.toString('latin1');
      const headers: Record<string, string> = { ...signSlackRequest(typeof c.body === 'string' ? c.body : c.body.toString('utf8'), SIGNING_SECRET), 'content-type': c.contentType ?? '' };
      const res = await fetch(url, { method: 'POST', headers, body: typeof c.body === 'string' ? raw : new Uint8Array(c.body) });
      await res.arrayBuffer();
      expect(res.status, c.name).toBe(c.name === 'too large' ? 413 : 400);
      expect(child.exitCode, `${c.name}: ${stderr}`).toBeNull();
    }
    // The child's log lines arrive on its stdout a moment after its answers.
    const refusedLines = (): string[] => stdout.split('\n').filter((l) => l.includes('refused: malformed signed body') || l.includes('request body too large'));
    await waitFor(() => refusedLines().length >= cases.length, { what: 'one log line per refused body', timeoutMs: 30_000 });
    expect(refusedLines()).toHaveLength(cases.length);
    expect(stdout).not.toMatch(/TypeError|unhandled/i);
    // Still alive, still answering a real command.
    const ok = await postSigned(url, slashCommandBody({ text: 'help', user_id: VIEWER }), SIGNING_SECRET);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { text: string }).text).toContain('/cdb status');
    expect(child.exitCode).toBeNull();
  });
});
