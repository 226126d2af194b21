// Hostile text through every command, as signed slash commands to the real bot's HTTP receiver, with
// the Slack stand-in capturing every outgoing call: nothing a user typed may come back as a live
// mention, a link, an entity or a raw control/bidi character, in any field of any message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { startHarness, type Harness } from '../support/harness.ts';
import { randomSuffix, waitFor } from '../support/compose-stack.ts';
import { flatText, requestIdOf, waitForFinalReply } from '../support/final-reply.ts';
import { loadRegistry } from '../../src/shared/registry/registry.ts';
import { loadJobs } from '../../src/worker/job-registry.ts';
import { defineJob, type AnyJob } from '../../src/worker/define-job.ts';
import { logsArgsSchema, type LogsResult } from '../../src/shared/contracts/logs.ts';
import { JOBS_QUEUE, queuePrefix } from '../../src/shared/queue/names.ts';

const BOSS = 'U0HOSTILE'; // holds every role, so each command gets as far as its arguments allow
const VIEWER = 'U0VIEWONLY';
const CHANNEL = 'C2147483705';

/** What users type to make the bot shout, mention, link or mislead; each must come back inert. */
const HOSTILE = [
  '<!channel>', '<!here>', '<!everyone>', '<@U0VICTIM>', '<#C0VICTIM>', '<!subteam^S0VICTIM>',
  '<https://evil.example/|click me>', 'x&y', 'a\u0000b', '\u202egnp.exe', 'x\u2066iso\u2069y', '<x>&amp;<y>',
];
/** Substrings that must never appear raw in anything the bot sends. */
const FORBIDDEN = [
  '<!channel', '<!here', '<!everyone', '<@U0VICTIM', '<#C0VICTIM', '<!subteam^S0VICTIM', '<https://evil',
  'x&y', '<x>', '\u0000', '\u202e', '\u2066', '\u2069',
];

/** Whether the bot has posted the slow request's progress message; set once the harness runs. */
let progressPosted: () => boolean = () => false;

/**
 * Stands in for Loki/Docker: echoes the filter the way real log lines containing it would. Slow on
 * limit 7: it answers only once the bot has posted its progress message (the worker reports progress
 * after 2 s), so the answer is always an update of that message, however loaded the machine is.
 */
const fakeLogs = defineJob({
  name: 'logs',
  args: logsArgsSchema,
  async run(ctx, args): Promise<LogsResult> {
    ctx.progress(`Looking for “${args.filter ?? ''}” in ${args.service}…`);
    if (args.limit === 7) await waitFor(() => progressPosted(), { what: 'the progress message of the slow request', timeoutMs: 60_000 });
    const lines = Array.from({ length: Math.min(args.limit, 60) }, (_, i) => ({ ts: new Date().toISOString(), container: `${args.service}-1`, line: `line ${i} ${args.filter ?? ''}` }));
    return {
      service: args.service, since: args.since, filter: args.filter, limit: args.limit, source: 'loki',
      query: `{container="${args.service}-1"} |= ${JSON.stringify(args.filter ?? '')}`, containers: [`${args.service}-1`, `${args.service}-2`],
      lines, truncated: args.limit > 60, note: `filter was ${args.filter ?? ''}`,
    };
  },
});

function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) strings(v, out);
  return out;
}

describe('hostile input through every command', () => {
  let h: Harness;
  let jobs: Queue;
  const acks: unknown[] = [];

  beforeAll(async () => {
    const real = await loadJobs();
    const jobsOverride = new Map<string, AnyJob>([...real, ['logs', fakeLogs as AnyJob]]);
    h = await startHarness({
      file: { stack: { project: `cdbt${randomSuffix()}` }, roles: { approver: { users: [BOSS] }, viewer: { users: [VIEWER] } } },
      jobs: jobsOverride,
    });
    jobs = new Queue(JOBS_QUEUE, { connection: h.redis, prefix: queuePrefix(h.config) });
    progressPosted = () => [...h.slack.messages.values()].some((m) => flatText(m).includes('Looking for “slowpoke”'));
  });

  afterAll(async () => {
    await jobs?.close();
    await h?.close();
  });

  const send = async (text: string, user = BOSS): Promise<string> => {
    const res = await h.slash(text, { user_id: user });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { text?: string };
    acks.push(body);
    return String(body.text);
  };

  it('echoes nothing a user typed raw, in any field of any outgoing message', async () => {
    const registry = await loadRegistry();
    const typed: string[] = [];
    for (const raw of HOSTILE) {
      const h1 = raw.includes('"') ? raw : `"${raw}"`;
      typed.push(h1, `--${h1}`, `-${h1}`, `help ${h1}`);
      for (const name of registry.keys()) {
        typed.push(`${name} ${h1}`, `${name} core ${h1}`, `${name} --${h1}`, `${name} --since=${h1}`, `${name} core --limit=${h1}`);
      }
      typed.push(`logs core ${h1} --limit=5`, `logs core ${h1} --limit=60`);
    }
    typed.push(`logs core "${HOSTILE[0]}" --limit=7`); // slow: a progress message first, then the result
    const enqueued: string[] = [];
    for (const text of typed) {
      const ack = await send(text);
      if (/is on its way/.test(ack)) enqueued.push(requestIdOf(ack));
    }
    expect(enqueued.length).toBeGreaterThanOrEqual(HOSTILE.length * 2);
    for (const id of enqueued) await waitForFinalReply(h.slack, id, { channel: CHANNEL });
    // Slow answers (approval plans) come through response_url; wait until none is still "Working on it".
    await waitFor(() => h.slack.responses.filter((r) => !/Working on it/.test(String(r.text))).length >= h.slack.responses.filter((r) => /Working on it/.test(String(r.text))).length, { what: 'every slow answer', timeoutMs: 120_000 });

    const outgoing: Array<[string, string]> = [
      ...acks.flatMap((a) => strings(a).map((s): [string, string] => ['ack', s])),
      ...h.slack.calls.flatMap((c) => strings(c.args).map((s): [string, string] => [c.method, s])),
      ...h.slack.responses.flatMap((r) => strings(r.body).map((s): [string, string] => ['response_url', s])),
      ...h.slack.uploads.flatMap((u) => [u.title ?? '', u.filename].map((s): [string, string] => ['upload', s])),
    ];
    const leaks = outgoing.filter(([, s]) => FORBIDDEN.some((f) => s.includes(f)));
    expect(leaks.map(([where, s]) => `${where}: ${JSON.stringify(s.slice(0, 200))}`)).toEqual([]);

    // The echoes are there, escaped: the test saw what it guards.
    const all = outgoing.map(([, s]) => s).join('\n');
    expect(all).toContain('&lt;!channel&gt;');
    expect(all).toContain('&lt;@U0VICTIM&gt;');
    expect(all).toContain('x&amp;y');
    expect(all).toContain('[U+202E]');
    expect(all).toContain('[U+0000]');
    expect(h.slack.calls.some((c) => c.method === 'files.completeUploadExternal')).toBe(true);
    expect(h.slack.calls.some((c) => c.method === 'chat.update')).toBe(true);
  });

  it('shows a slow answer as an update of the progress message, which waitForFinalReply reads', async () => {
    const ack = await send('logs core slowpoke --limit=7');
    const final = await waitForFinalReply(h.slack, requestIdOf(ack), { channel: CHANNEL });
    expect(final.updates).toBeGreaterThan(0);
    expect(final.text).toMatch(/^Logs of core/);
    // The trap of the old tests: no chat.postMessage ever carried this answer.
    expect(h.slack.calls.some((c) => c.method === 'chat.postMessage' && flatText({ text: String(c.args.text), blocks: c.args.blocks }).includes('slowpoke') && /^Logs of/.test(String(c.args.text)))).toBe(false);
  });

  it("refuses a viewer's doctor --fix=all up front: no plan job, no approval request", async () => {
    const before = await jobs.getJobCounts();
    const approvalKeys = async () => (await h.redis.keys(`${h.config.redis.prefix}:approval*`)).sort();
    const keysBefore = await approvalKeys();
    const calls = h.slack.calls.length;
    for (const text of ['doctor --fix=all', 'doctor --fix', 'doctor ports --fix=all']) {
      const ack = await send(text, VIEWER);
      expect(ack).toMatch(/needs the \*operator\* role/);
    }
    expect(await jobs.getJobCounts()).toEqual(before);
    expect(await approvalKeys()).toEqual(keysBefore);
    expect(h.slack.calls.slice(calls).filter((c) => c.method === 'chat.postMessage')).toEqual([]);
    // Without --fix, doctor stays a viewer command.
    expect(await send('doctor ports', VIEWER)).toMatch(/is on its way/);
  });
});
