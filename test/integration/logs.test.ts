import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomSuffix, startComposeStack, waitFor, type ComposeStack } from '../support/compose-stack.ts';
import { startHarness, type Harness } from '../support/harness.ts';
import { startLokiStandin, type LokiStandin } from '../support/loki-standin.ts';
import { parseLogQL } from '../support/logql.ts';
import { textOf } from '../support/alerts-kit.ts';
import { finalReplyTo } from '../support/final-reply.ts';

const CHANNEL = 'C2147483705'; // the stand-in's default slash-command channel
const USER = 'U2147483697';
const LONG = 120_000;

// What the container itself prints (Docker's own log), for the fallback without Loki.
const chatty = ['sh', '-c', 'trap "exit 0" TERM; echo "docker line one"; echo "docker secret password=hunter2"; echo "docker line three"; while :; do sleep 1; done'];

describe('/cdb logs end to end', () => {
  let stack: ComposeStack;
  let loki: LokiStandin;
  let h: Harness;
  const core = () => `${stack.project}_core_1`;
  const resultOf = async (text: string, pred: (t: string) => boolean = () => true) => {
    const before = h.slack.calls.length;
    const res = await h.slash(text, { user_id: USER });
    expect(res.status).toBe(200);
    const call = await h.slack.waitForCall((c) => h.slack.calls.indexOf(c) >= before && (c.method === 'chat.postMessage' || c.method === 'chat.update') && c.args.channel === CHANNEL && String(c.args.text).startsWith('Logs of') && pred(textOf({ text: String(c.args.text), blocks: c.args.blocks })), LONG);
    return textOf({ text: String(call.args.text), blocks: call.args.blocks });
  };

  beforeAll(async () => {
    stack = await startComposeStack({ project: `cdbt${randomSuffix()}`, services: { core: { command: chatty } } });
    loki = await startLokiStandin();
    h = await startHarness({ file: { stack: { project: stack.project }, loki: { url: loki.url }, roles: { viewer: { users: [USER] } } } });
  });

  afterAll(async () => {
    await h?.close();
    await loki?.close();
    await stack?.down();
  });

  it('posts the recent lines of a service from Loki, oldest first, secrets masked', async () => {
    loki.push(core(), 'level=info msg="first"');
    loki.push(core(), 'level=error msg="login failed" password=hunter2');
    loki.push(core(), 'level=info msg="third"');
    loki.push('someone_else_1', 'level=info msg="not ours"');
    const text = await resultOf('logs core');
    expect(text.indexOf('first')).toBeLessThan(text.indexOf('third'));
    expect(text).toContain('[REDACTED]');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('not ours');
    expect(text).toContain('from Loki');
    const q = loki.queries.at(-1)!;
    expect(q.endpoint).toBe('query_range');
    expect(q.params.limit).toBe('101');
  });

  it.each([
    ['double quotes', 'say "hi"'],
    ['a backtick and braces', 'a `tick` } {job="x"} |= "y"'],
    ['a backslash', 'C:\\temp\\x'],
    ['a newline', 'multi\nline'],
  ])('escapes a filter with %s: Loki gets exactly that substring, and only matching lines come back', async (_label, filter) => {
    loki.push(core(), `match here: ${filter} (end)`);
    loki.push(core(), 'decoy line without it');
    // Typed in Slack inside single quotes; the newline case the way a pasted two-line filter arrives.
    const text = await resultOf(`logs core '${filter}' --since=5m`, (t) => t.includes('match here'));
    expect(text).not.toContain('decoy line');
    const q = loki.queries.at(-1)!;
    const parsed = parseLogQL(q.query);
    expect(parsed.kind).toBe('log');
    if (parsed.kind !== 'log') return;
    expect(parsed.filters.map((f) => [f.op, f.value])).toEqual([['|=', filter]]);
    expect(parsed.matchers).toHaveLength(1);
    expect(parsed.matchers[0]!.re!.test(core())).toBe(true);
  });

  it('uploads long output as a file in the thread of the result', async () => {
    for (let i = 0; i < 150; i++) loki.push(core(), `bulk line ${String(i).padStart(3, '0')} ${'x'.repeat(40)}`);
    const text = await resultOf('logs core bulk --limit 500', (t) => t.includes('attached as a file'));
    expect(text).toContain('150 lines');
    const upload = await waitFor(() => h.slack.uploads.find((u) => u.completed && u.filename === 'core-logs.txt'), { what: 'the file upload', timeoutMs: LONG });
    const content = upload.content?.toString('utf8') ?? '';
    expect(content.split('\n').filter((l) => l.includes('bulk line'))).toHaveLength(150);
    expect(upload.channel_id).toBe(CHANNEL);
    expect(upload.thread_ts).toBeTruthy();
  });

  it('falls back to Docker when Loki does not answer, and says so', async () => {
    await loki.setFailure('refuse');
    try {
      const text = await resultOf('logs core', (t) => t.includes('from Docker'));
      expect(text).toContain('docker line one');
      expect(text).toContain('docker line three');
      expect(text).not.toContain('hunter2');
      expect(text).toContain('Loki did not answer');
    } finally {
      await loki.setFailure(null);
    }
  });

  it('refuses an unknown service, bad options and an overlong filter', async () => {
    const none = await finalReplyTo(h.slack, () => h.slash('logs nosuch', { user_id: USER }), { timeoutMs: LONG });
    expect(none.text).toMatch(/Logs of nosuch: no lines|No container of service/);
    for (const [typed, message] of [
      ['logs core --since 9d', /at most 7d/],
      ['logs core --limit 100000', /limit/],
      [`logs core ${'y'.repeat(201)}`, /at most 200 characters/],
      ['logs "core;reboot"', /service/],
    ] as const) {
      const body = (await (await h.slash(typed, { user_id: USER })).json()) as { text: string };
      expect(body.text).toMatch(message);
    }
  });
});

describe('/cdb logs without Loki', () => {
  let stack: ComposeStack;
  let h: Harness;
  beforeAll(async () => {
    stack = await startComposeStack({ project: `cdbt${randomSuffix()}`, services: { core: { command: chatty } } });
    h = await startHarness({ file: { stack: { project: stack.project }, roles: { viewer: { users: [USER] } } } });
  });
  afterAll(async () => {
    await h?.close();
    await stack?.down();
  });

  it('reads the lines from Docker, filtered in the worker', async () => {
    const reply = await finalReplyTo(h.slack, () => h.slash('logs core three', { user_id: USER }), { timeoutMs: LONG });
    expect(reply.text).toMatch(/^Logs of core/);
    const text = textOf(reply);
    expect(text).toContain('docker line three');
    expect(text).not.toContain('docker line one');
    expect(text).toContain('from Docker');
  });
});
