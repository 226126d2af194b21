import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { WebClient } from '@slack/web-api';
import { AuditLog, type AuditEntry } from '../../src/shared/audit/audit.ts';
import { verifyAuditChain } from '../../src/shared/audit/verify.ts';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createLogger } from '../../src/shared/log.ts';
import { runCli } from '../../src/main/run-cli.ts';
import { writeCheckpoint } from '../../src/bot/audit-checkpoints.ts';
import { REDIS_URL, startHarness, type Harness } from '../support/harness.ts';
import { randomSuffix, waitFor } from '../support/compose-stack.ts';

const KEY = 'audit-key-for-tests-0123456789abcdef';
const log = createLogger({ level: 'silent' });

function entry(i: number, user = 'U0ALICE01'): AuditEntry {
  return { requestId: `req${i}`, command: i % 2 ? 'status' : 'restart', args: { service: 'web' }, actor: { userId: user, teamId: 'T0001' }, via: 'slack', outcome: 'accepted' };
}

type Row = [string, string[]];

describe('tamper-evident audit stream (hash chain, trim anchor, checkpoints)', () => {
  let redis: Redis;
  let stream: string;
  const keys: string[] = [];

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterEach(async () => {
    const found = (await Promise.all(keys.splice(0).map((p) => redis.keys(`${p}*`)))).flat();
    if (found.length) await redis.del(...found);
  });
  afterAll(async () => {
    await redis.quit();
  });

  /** Two writers (bot and worker) appending at once, as in production. */
  async function fill(n: number, maxLen = 10_000, key: string | undefined = KEY): Promise<AuditLog[]> {
    stream = `cdbt-${randomSuffix()}:audit`;
    keys.push(stream);
    const a = new AuditLog(redis, log, stream, maxLen, key);
    const b = new AuditLog(redis.duplicate(), log, stream, maxLen, key);
    await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? a : b).record(entry(i + 1))));
    return [a, b];
  }
  const rows = async (): Promise<Row[]> => (await redis.xrange(stream, '-', '+')) as Row[];
  /** What someone with Redis access does to "edit" a stream: rewrite it (entries get fresh ids in order). */
  async function rewrite(change: (rows: Row[]) => Row[]): Promise<Row[]> {
    const next = change(await rows()).map(([, fields], i) => [`1-${i + 1}`, fields] as Row);
    await redis.del(stream);
    for (const [id, fields] of next) await redis.xadd(stream, id, ...fields);
    return next;
  }
  const setField = (fields: string[], name: string, value: string): string[] => {
    const out = [...fields];
    out[out.indexOf(name) + 1] = value;
    return out;
  };
  it('verifies an untouched stream written by two processes at once', async () => {
    await fill(40);
    const report = await verifyAuditChain(redis, stream, KEY);
    expect(report).toMatchObject({ ok: true, keyed: true, entries: 40, firstSeq: 1, lastSeq: 40 });
    const seqs = (await rows()).map(([, f]) => Number(f[f.indexOf('seq') + 1]));
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
  });

  it('names the entry that was edited', async () => {
    await fill(12);
    const edited = await rewrite((r) => r.map(([id, f], i) => [id, i === 6 ? setField(f, 'entry', (f[1] ?? '').replace('"accepted"', '"answered"')) : f]));
    const report = await verifyAuditChain(redis, stream, KEY);
    expect(report.finding).toMatchObject({ problem: 'changed', streamId: edited[6]?.[0], seq: 7 });
    expect(report.ok).toBe(false);
  });

  it('names the entry that was deleted (middle and end)', async () => {
    await fill(12);
    const before = await rows();
    await redis.xdel(stream, before[4]?.[0] ?? '');
    let report = await verifyAuditChain(redis, stream, KEY);
    expect(report.finding).toMatchObject({ problem: 'removed', seq: 5, streamId: before[5]?.[0] });
    expect(report.finding?.detail).toContain(`after ${before[3]?.[0]}`);

    await fill(12);
    const all = await rows();
    await redis.xdel(stream, all[11]?.[0] ?? '');
    report = await verifyAuditChain(redis, stream, KEY);
    expect(report.finding).toMatchObject({ problem: 'removed', seq: 12 });
  });

  it('names an entry inserted by hand, with or without made-up chain fields', async () => {
    await fill(12);
    const inserted = await rewrite((r) => {
      return [...r.slice(0, 6), ['', ['entry', JSON.stringify({ ...entry(99, 'U0MALLORY'), at: new Date().toISOString() })]] as Row, ...r.slice(6)];
    });
    let report = await verifyAuditChain(redis, stream, KEY);
    expect(report.finding).toMatchObject({ problem: 'inserted', streamId: inserted[6]?.[0] });

    await fill(12);
    const forged = await rewrite((r) => {
      const f = r[5]?.[1] ?? [];
      const fake = ['entry', JSON.stringify({ ...entry(99, 'U0MALLORY'), at: new Date().toISOString() }), 'seq', '7', 'prev', f[f.indexOf('hash') + 1] ?? '', 'hash', 'f'.repeat(64)];
      return [...r.slice(0, 6), ['', fake] as Row, ...r.slice(6)];
    });
    report = await verifyAuditChain(redis, stream, KEY);
    expect(report.finding).toMatchObject({ problem: 'inserted', streamId: forged[6]?.[0] });

    // A copy of a genuine entry replayed further on is an insertion too.
    await fill(12);
    const copied = await rewrite((r) => [...r.slice(0, 8), ['', r[2]?.[1] ?? []] as Row, ...r.slice(8)]);
    report = await verifyAuditChain(redis, stream, KEY);
    expect(report.finding).toMatchObject({ problem: 'inserted', streamId: copied[8]?.[0] });
  });

  it('still verifies after trimming (signed anchor), and catches removals beyond the trim and a forged anchor', async () => {
    const [a] = await fill(60, 20);
    await a?.trim();
    expect(await redis.xlen(stream)).toBe(20);
    const report = await verifyAuditChain(redis, stream, KEY);
    expect(report).toMatchObject({ ok: true, entries: 20, firstSeq: 41, lastSeq: 60, anchorSeq: 40 });

    const kept = await rows();
    await redis.xdel(stream, kept[0]?.[0] ?? '', kept[1]?.[0] ?? '');
    const cut = await verifyAuditChain(redis, stream, KEY);
    expect(cut.finding).toMatchObject({ problem: 'removed', seq: 41, streamId: kept[2]?.[0] });
    expect(cut.finding?.detail).toContain('after the trim anchor (seq 40)');

    // Moving the anchor forward by hand to hide that: its signature gives it away.
    const anchor = JSON.parse((await redis.get(`${stream}:anchor`)) ?? '{}') as Record<string, unknown>;
    const f = kept[2]?.[1] ?? [];
    await redis.set(`${stream}:anchor`, JSON.stringify({ ...anchor, seq: 42, hash: f[f.indexOf('prev') + 1] }));
    expect((await verifyAuditChain(redis, stream, KEY)).finding).toMatchObject({ problem: 'bad-anchor' });
  });

  it('trims by itself as it appends, and the capped stream verifies', async () => {
    await fill(120, 30);
    expect(await redis.xlen(stream)).toBeLessThanOrEqual(30 + 50);
    const report = await verifyAuditChain(redis, stream, KEY);
    expect(report.ok).toBe(true);
    expect(report.anchorSeq).toBeGreaterThan(0);
  });

  it('checkpoints outside Redis catch a cut end even when the head was reset, and a chain rewritten without the key', async () => {
    const [a] = await fill(15);
    const cp = await a?.checkpoint();
    expect(cp).toMatchObject({ kind: 'checkpoint', seq: 15 });
    const all = await rows();
    await redis.xdel(stream, ...all.slice(12).map(([id]) => id));
    const last = all[11]?.[1] ?? [];
    await redis.set(`${stream}:head`, `12:${last[last.indexOf('hash') + 1]}`);
    expect((await verifyAuditChain(redis, stream, KEY)).ok).toBe(true); // nothing in Redis can tell
    const report = await verifyAuditChain(redis, stream, KEY, [cp]);
    expect(report.finding).toMatchObject({ problem: 'removed', seq: 13 });

    // A forged checkpoint line is refused rather than trusted.
    expect((await verifyAuditChain(redis, stream, KEY, [{ ...cp, seq: 3 }])).finding).toMatchObject({ problem: 'bad-checkpoint' });
  });

  it('cdb audit verify exits 0 on an intact stream and 1 naming the entry otherwise', async () => {
    await fill(8);
    const prefix = stream.replace(/:audit$/, '');
    const config = buildConfig({ stack: { project: 'cdbtx' }, redis: { prefix } }, { REDIS_URL, CDB_AUDIT_KEY: KEY });
    const run = async (): Promise<{ code: number; out: string }> => {
      let out = '';
      const sink = new Writable({ write(c, _e, cb) { out += String(c); cb(); } });
      const code = await runCli({ argv: ['audit', 'verify'], loadConfig: () => config, user: 'ops', log, stdout: sink, stderr: sink });
      return { code, out };
    };
    let res = await run();
    expect(res).toMatchObject({ code: 0 });
    expect(res.out).toMatch(/audit chain OK: entries 1–8; 0 checkpoint\(s\) matched; chain keyed/);
    const edited = await rewrite((r) => r.map(([id, f], i) => [id, i === 2 ? setField(f, 'entry', (f[1] ?? '').replace('U0ALICE01', 'U0MALLORY')) : f]));
    res = await run();
    expect(res.code).toBe(1);
    expect(res.out).toContain(`audit chain BROKEN: entry ${edited[2]?.[0]} (seq 3`);
    expect(res.out).toContain('AUDIT_TAMPERED');
  });
});

describe('/cdb audit and checkpoints in Slack', () => {
  let h: Harness;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cdbt-audit-'));
    h = await startHarness({ worker: false, file: { roles: { viewer: { users: ['U0VIEWER1'] }, approver: { users: ['U0APPROV1'] } }, audit: { checkpointFile: join(dir, 'checkpoints.jsonl'), checkpointChannel: 'C0AUDIT01' } } });
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows approvers recent entries by user or command, refuses viewers', async () => {
    await h.slash('status', { user_id: 'U0VIEWER1' });
    // A job command's audit entry follows its enqueue, after the ack (post-ack.ts): wait for it.
    await waitFor(async () => (await h.redis.xrange(`${h.config.redis.prefix}:audit`, '-', '+'))
      .some(([, f]) => { const e = JSON.parse(f[1] ?? '{}') as { command?: string; outcome?: string }; return e.command === 'status' && e.outcome === 'accepted'; }),
    { what: 'the audit entry of /cdb status', timeoutMs: 30_000 });
    await h.slash('help', { user_id: 'U0VIEWER1' });
    const refused = (await (await h.slash('audit', { user_id: 'U0VIEWER1' })).json()) as { text: string };
    expect(refused.text).toMatch(/approver/);
    const byCommand = (await (await h.slash('audit status --since 1h', { user_id: 'U0APPROV1' })).json()) as { text: string; blocks: unknown };
    expect(byCommand.text).toMatch(/Audit: 1 entries of `status` in the last 1h/);
    expect(JSON.stringify(byCommand.blocks)).toContain('<@U0VIEWER1>');
    const byUser = (await (await h.slash('audit <@U0VIEWER1|viewer>', { user_id: 'U0APPROV1' })).json()) as { text: string; blocks: unknown };
    expect(byUser.text).toMatch(/Audit: 3 entries by user `U0VIEWER1`/);
    const bad = (await (await h.slash('audit "rm -rf"', { user_id: 'U0APPROV1' })).json()) as { text: string };
    expect(bad.text).toMatch(/a user \(@name or user ID\) or a command name/);
  });

  it('writes a signed checkpoint to the file and the channel, which verify accepts', async () => {
    const client = new WebClient(h.slack.botToken, { slackApiUrl: h.slack.apiUrl });
    const audit = new AuditLog(h.redis, h.log, `${h.config.redis.prefix}:audit`, 10_000);
    const cp = await writeCheckpoint({ config: h.config, audit, redis: h.redis, client, log: h.log });
    expect(cp?.seq).toBeGreaterThan(0);
    const lines = readFileSync(join(dir, 'checkpoints.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual([cp]);
    const post = await h.slack.waitForCall((c) => c.method === 'chat.postMessage' && c.args.channel === 'C0AUDIT01');
    expect(String(post.args.text)).toContain(`entry ${cp?.seq}`);
    const report = await verifyAuditChain(h.redis, `${h.config.redis.prefix}:audit`, undefined, lines);
    expect(report).toMatchObject({ ok: true, keyed: false, checkpointsMatched: 1 });
  });
});
