import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, LogLevel, WebClient, WebClientEvent } from '@slack/web-api';
import { isValidSlackRequest } from '@slack/bolt';
import { blockActionsBody, postSigned, signSlackRequest, slashCommandBody } from '../support/slack-sign.ts';
import { startSlackStandin, type SlackStandin } from '../support/slack-standin.ts';
import { startLokiStandin, type LokiStandin } from '../support/loki-standin.ts';

describe('slack signing helpers', () => {
  it('matches the worked example from Slack\'s request-verification docs', () => {
    const body = 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    expect(signSlackRequest(body, '8f742231b10e8888abcd99yyyzzz85a5', 1531420618)).toEqual({
      'x-slack-signature': 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
      'x-slack-request-timestamp': '1531420618',
    });
  });

  it('agrees with an independent HMAC and with Bolt\'s verifier', () => {
    const body = slashCommandBody({ text: 'restart core', user_id: 'U42' });
    const ts = Math.floor(Date.now() / 1000);
    const hand = 'v0=' + createHmac('sha256', 's3cret').update('v0:' + ts + ':' + body, 'utf8').digest('hex');
    const headers = signSlackRequest(body, 's3cret', ts);
    expect(headers['x-slack-signature']).toBe(hand);
    expect(isValidSlackRequest({ signingSecret: 's3cret', body, headers: { ...headers, 'x-slack-request-timestamp': ts } })).toBe(true);
    expect(isValidSlackRequest({ signingSecret: 'other', body, headers: { ...headers, 'x-slack-request-timestamp': ts } })).toBe(false);
  });

  it('builds slash-command and interactive bodies as Slack sends them', () => {
    const body = slashCommandBody({ text: 'logs core --since 5m', response_url: 'https://x.test/r/1' });
    expect([...new URLSearchParams(body).keys()]).toEqual(['token', 'team_id', 'team_domain', 'channel_id', 'channel_name',
      'user_id', 'user_name', 'command', 'text', 'api_app_id', 'is_enterprise_install', 'response_url', 'trigger_id']);
    expect(body).toContain('command=%2Fcdb&text=logs+core+--since+5m&');
    expect(body).toContain('response_url=https%3A%2F%2Fx.test%2Fr%2F1');
    const payload = { type: 'block_actions', actions: [{ action_id: 'approve', value: 'a b&c' }] };
    const interactive = blockActionsBody(payload);
    expect(interactive.startsWith('payload=%7B%22type%22%3A%22block_actions%22')).toBe(true);
    expect(JSON.parse(new URLSearchParams(interactive).get('payload') ?? '')).toEqual(payload);
  });

  it('postSigned sends a verifiable request', async () => {
    const seen: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString('utf8'); });
      req.on('end', () => { seen.push({ headers: req.headers, body }); res.end('ok'); });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
    const body = slashCommandBody({ text: 'ps' });
    const res = await postSigned(url, body, 'topsecret');
    expect(res.status).toBe(200);
    server.close();
    const got = seen[0];
    expect(got?.body).toBe(body);
    expect(got?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const headers = { 'x-slack-signature': String(got?.headers['x-slack-signature']), 'x-slack-request-timestamp': Number(got?.headers['x-slack-request-timestamp']) };
    expect(isValidSlackRequest({ signingSecret: 'topsecret', body, headers })).toBe(true);
  });
});

describe('slack stand-in with the real WebClient', () => {
  let slack: SlackStandin;
  let client: WebClient;
  beforeAll(async () => { slack = await startSlackStandin(); });
  afterAll(async () => { await slack.close(); });
  beforeEach(() => {
    slack.reset({ fixtures: true });
    client = new WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, logLevel: LogLevel.ERROR, retryConfig: { retries: 0 } });
  });

  it('auth.test, postMessage and update', async () => {
    expect(slack.apiUrl.endsWith('/api/')).toBe(true);
    const auth = await client.auth.test();
    expect(auth).toMatchObject({ ok: true, team_id: slack.teamId, user_id: slack.botUserId, bot_id: slack.botId });
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*restarting* core' } }];
    const posted = await client.chat.postMessage({ channel: 'C1', text: 'restarting core', blocks });
    expect(posted.ts).toMatch(/^\d{10}\.\d{6}$/);
    const second = await client.chat.postMessage({ channel: 'C1', text: 'again' });
    expect(second.ts).not.toBe(posted.ts);
    const call = await slack.waitForCall((c) => c.method === 'chat.postMessage');
    expect(call.token).toBe(slack.botToken);
    expect(call.args.blocks).toEqual(blocks); // form-encoded JSON string parsed back
    const updated = await client.chat.update({ channel: 'C1', ts: posted.ts ?? '', text: 'core restarted', blocks: [] });
    expect(updated.ok).toBe(true);
    const msg = slack.messages.get(`C1:${posted.ts}`);
    expect(msg).toMatchObject({ text: 'core restarted', updates: 1 });
    expect(msg?.blocks).toBeUndefined();
    await expect(client.chat.update({ channel: 'C1', ts: '1.000001', text: 'x' }))
      .rejects.toMatchObject({ code: ErrorCode.PlatformError, data: { ok: false, error: 'message_not_found' } });
    await client.chat.delete({ channel: 'C1', ts: second.ts ?? '' });
    expect(slack.messages.size).toBe(1);
  });

  it('rejects invalid blocks, bad tokens and unknown methods like Slack', async () => {
    await expect(client.chat.postMessage({ channel: 'C1', text: 'x', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'a'.repeat(3001) } }] }))
      .rejects.toMatchObject({ data: { error: 'invalid_blocks', errors: ['must be less than 3001 characters [json-pointer:/blocks/0/text/text]'] } });
    const bad = new WebClient('xoxb-nope', { slackApiUrl: slack.apiUrl, logLevel: LogLevel.ERROR, retryConfig: { retries: 0 } });
    await expect(bad.auth.test()).rejects.toMatchObject({ data: { error: 'invalid_auth' } });
    const anon = new WebClient(undefined, { slackApiUrl: slack.apiUrl, logLevel: LogLevel.ERROR, retryConfig: { retries: 0 } });
    await expect(anon.auth.test()).rejects.toMatchObject({ data: { error: 'not_authed' } });
    await expect(client.apiCall('nope.nope')).rejects.toMatchObject({ data: { error: 'unknown_method' } });
    slack.addToken('xoxb-second');
    expect((await client.auth.test({ token: 'xoxb-second' })).ok).toBe(true);
    // JSON bodies: token only via Authorization header, as on slack.com
    const res = await fetch(`${slack.apiUrl}chat.postMessage`, {
      method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${slack.botToken}` },
      body: JSON.stringify({ channel: 'C9', text: 'json', blocks: [{ type: 'divider' }] }),
    });
    expect(await res.json()).toMatchObject({ ok: true, channel: 'C9', message: { text: 'json', blocks: [{ type: 'divider' }] } });
  });

  it('usergroups, users and conversations', async () => {
    slack.setUsergroup('S123', ['U1', 'U2']);
    expect((await client.usergroups.users.list({ usergroup: 'S123' })).users).toEqual(['U1', 'U2']);
    await expect(client.usergroups.users.list({ usergroup: 'S999' })).rejects.toMatchObject({ data: { error: 'no_such_subteam' } });
    expect((await client.users.info({ user: 'U1' })).user).toMatchObject({ id: 'U1', is_bot: false, deleted: false });
    slack.setUser('U2', { deleted: true });
    expect((await client.users.info({ user: 'U2' })).user).toMatchObject({ id: 'U2', deleted: true });
    expect((await client.conversations.info({ channel: 'C1' })).channel).toMatchObject({ id: 'C1', is_channel: true });
  });

  it('files.uploadV2 end to end', async () => {
    const res = await client.files.uploadV2({ channel_id: 'C1', content: 'line 1\nline 2\n', filename: 'core.log', title: 'core logs', initial_comment: 'logs' });
    expect(res.ok).toBe(true);
    expect(slack.uploads).toHaveLength(1);
    expect(slack.uploads[0]).toMatchObject({ filename: 'core.log', title: 'core logs', text: 'line 1\nline 2\n', completed: true, channel_id: 'C1', initial_comment: 'logs' });
    expect(slack.calls.map((c) => c.method)).toEqual(['files.getUploadURLExternal', 'files.completeUploadExternal']);
  });

  it('429 with Retry-After is retried by WebClient', async () => {
    const retrying = new WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, logLevel: LogLevel.ERROR, retryConfig: { retries: 2, minTimeout: 0, maxTimeout: 1 } });
    const limited: number[] = [];
    retrying.on(WebClientEvent.RATE_LIMITED, (sec: number) => limited.push(sec));
    slack.failNext('chat.postMessage', 'ratelimited', { status: 429, retryAfter: 1 });
    const t0 = Date.now();
    const res = await retrying.chat.postMessage({ channel: 'C1', text: 'after limit' });
    expect(res.ok).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(limited).toEqual([1]);
    expect(slack.calls.map((c) => [c.method, c.error])).toEqual([['chat.postMessage', 'ratelimited'], ['chat.postMessage', undefined]]);
    const rejecting = new WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, logLevel: LogLevel.ERROR, rejectRateLimitedCalls: true });
    slack.failNext('chat.postMessage', 'ratelimited', { status: 429, retryAfter: 7 });
    await expect(rejecting.chat.postMessage({ channel: 'C1', text: 'x' })).rejects.toMatchObject({ code: ErrorCode.RateLimitedError, retryAfter: 7 });
    slack.failNext('chat.postMessage', 'channel_not_found');
    await expect(client.chat.postMessage({ channel: 'C1', text: 'x' })).rejects.toMatchObject({ data: { error: 'channel_not_found' } });
  });

  it('response_url posts are recorded and can replace the original', async () => {
    const posted = await client.chat.postMessage({ channel: 'C1', text: 'approve?' });
    const url = slack.responseUrl('r1', { channel: 'C1', ts: posted.ts ?? '' });
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ replace_original: true, text: 'approved' }) });
    expect(await res.json()).toEqual({ ok: true });
    const r = await slack.waitForResponse((x) => x.id === 'r1');
    expect(r).toMatchObject({ replace_original: true, text: 'approved' });
    expect(slack.messages.get(`C1:${posted.ts}`)?.text).toBe('approved');
    await expect(slack.waitForCall((c) => c.method === 'chat.delete', 50)).rejects.toThrow(/no match within 50ms; seen 1:\n.*chat\.postMessage/);
  });
});

const CORE = { container_name: 'cdb_core' };
const PUSH = { streams: [
  { stream: CORE, values: [
    ['1795476235868646029', 'level=info msg="cdb_core starting"'],
    ['1795476265868646029', 'level=error msg="connection refused to upstream"'],
    ['1795476295868646029', 'level=info msg="request handled" status=200'],
    ['1795476325868646029', 'level=error msg="timeout while writing block"'],
    ['1795476350868646029', 'level=warn msg="slow query" duration=2.3s'],
    ['1795465555868646029', 'level=error msg="old replayed error line"'],
  ] },
] };
// Captured from real Loki 2.7.5 (/work/shared/loki-samples): the results our data must reproduce exactly.
const SAMPLE_ERRORS = [{ stream: CORE, values: [['1795476325868646029', 'level=error msg="timeout while writing block"'], ['1795476265868646029', 'level=error msg="connection refused to upstream"'], ['1795465555868646029', 'level=error msg="old replayed error line"']] }];
const SAMPLE_MATRIX = [
  { metric: { container_name: 'cdb_api' }, values: [[1795476840, '1'], [1795476900, '1'], [1795476960, '1'], [1795477020, '1'], [1795477080, '1']] },
  { metric: { container_name: 'cdb_core' }, values: [[1795476300, '1'], [1795476360, '2'], [1795476420, '2'], [1795476480, '2'], [1795476540, '2'], [1795476600, '1'], [1795477500, '2']] },
];
const SAMPLE_VECTOR = [{ metric: { container_name: 'cdb_core' }, value: [1795477496, '2'] }];
const SAMPLE_STATS = { summary: { bytesProcessedPerSecond: 0, linesProcessedPerSecond: 0, totalBytesProcessed: 0, totalLinesProcessed: 0, execTime: 0, queueTime: 0, subqueries: 0, totalEntriesReturned: 0 }, querier: { store: { totalChunksRef: 0, totalChunksDownloaded: 0, chunksDownloadTime: 0, chunk: { headChunkBytes: 0, headChunkLines: 0, decompressedBytes: 0, decompressedLines: 0, compressedBytes: 0, totalDuplicates: 0 } } }, ingester: { totalReached: 0, totalChunksMatched: 0, totalBatches: 0, totalLinesSent: 0, store: { totalChunksRef: 0, totalChunksDownloaded: 0, chunksDownloadTime: 0, chunk: { headChunkBytes: 0, headChunkLines: 0, decompressedBytes: 0, decompressedLines: 0, compressedBytes: 0, totalDuplicates: 0 } } }, cache: { chunk: { entriesFound: 0, entriesRequested: 0, entriesStored: 0, bytesReceived: 0, bytesSent: 0, requests: 0 }, index: { entriesFound: 0, entriesRequested: 0, entriesStored: 0, bytesReceived: 0, bytesSent: 0, requests: 0 }, result: { entriesFound: 0, entriesRequested: 0, entriesStored: 0, bytesReceived: 0, bytesSent: 0, requests: 0 } } };
const shape = (v: unknown): unknown => (typeof v === 'object' && v !== null ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)])) : typeof v);

describe('loki stand-in', () => {
  let loki: LokiStandin;
  const get = async (path: string, params: Record<string, string> = {}): Promise<Response> =>
    fetch(`${loki.url}${path}?${new URLSearchParams(params).toString()}`);
  beforeAll(async () => {
    loki = await startLokiStandin();
    const res = await fetch(`${loki.url}/loki/api/v1/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(PUSH) });
    expect(res.status).toBe(204);
    loki.push('cdb_api', 'level=error msg="upstream error"', 1795476800_000);
    loki.push('cdb_core', 'level=error msg="disk error"', 1795477450_000);
    loki.push('cdb_core', 'level=error msg="write error"', 1795477460_000);
    loki.push('cdb_core', 'level=ERROR msg="SHOUTING"', 1795477470_000);
  });
  afterAll(async () => { await loki.close(); });

  it('answers a log query in the streams format, newest first', async () => {
    const res = await get('/loki/api/v1/query_range', { query: '{container_name="cdb_core"} |= "error"', start: '1795465000000000000', end: '1795476400000000000', limit: '100' });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await res.json()) as { status: string; data: { resultType: string; result: unknown; stats: unknown } };
    expect(body.status).toBe('success');
    expect(body.data.resultType).toBe('streams');
    expect(body.data.result).toEqual(SAMPLE_ERRORS);
    expect(shape(body.data.stats)).toEqual(shape(SAMPLE_STATS));
    const fwd = (await (await get('/loki/api/v1/query_range', { query: '{container_name=~"cdb_.*"} !~ "(?i)error"', start: '2026-11-23T00:00:00Z', end: '2026-11-26T00:00:00Z', direction: 'forward', limit: '2' })).json()) as { data: { result: Array<{ values: string[][] }> } };
    expect(fwd.data.result[0]?.values.map((v) => v[0])).toEqual(['1795476235868646029', '1795476295868646029']);
  });

  it('answers sum by (container_name) (count_over_time(...)) as matrix and vector like real Loki', async () => {
    const q = 'sum by (container_name) (count_over_time({container_name=~"cdb_.*"} |= "error" [5m]))';
    const range = (await (await get('/loki/api/v1/query_range', { query: q, start: '1795476300', end: '1795477500', step: '60' })).json()) as { data: { resultType: string; result: unknown; stats: unknown } };
    expect(range.data.resultType).toBe('matrix');
    expect(range.data.result).toEqual(SAMPLE_MATRIX);
    expect(shape(range.data.stats)).toEqual(shape(SAMPLE_STATS));
    const inst = (await (await get('/loki/api/v1/query', { query: q, time: '1795477496' })).json()) as { data: { resultType: string; result: unknown } };
    expect(inst.data).toMatchObject({ resultType: 'vector', result: SAMPLE_VECTOR });
    const ci = (await (await get('/loki/api/v1/query', { query: q.replace('|= "error"', '|~ "(?i)error"'), time: '1795477496' })).json()) as { data: { result: unknown } };
    expect(ci.data.result).toEqual([{ metric: CORE, value: [1795477496, '3'] }]);
    expect(loki.queries.filter((x) => x.endpoint === 'query').map((x) => x.query)).toEqual([q, q.replace('|= "error"', '|~ "(?i)error"')]);
  });

  it('rejects bad LogQL with a plain-text 400 parse error', async () => {
    for (const query of ['{container_name="cdb_core"', 'count_over_time({container_name="x"})', '{container_name=~".*"}']) {
      const res = await get('/loki/api/v1/query_range', { query });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await res.text()).toMatch(/^parse error (at line 1, col \d+|):/);
    }
    const inst = await get('/loki/api/v1/query', { query: '{container_name="cdb_core"}' });
    expect(inst.status).toBe(400);
    expect(await inst.text()).toMatch(/log queries are not supported as an instant query type/);
  });

  it('serves labels, buildinfo, readiness and failure modes', async () => {
    expect(await (await get('/loki/api/v1/label/container_name/values', { start: '1795465000', end: '1795480000' })).json()).toEqual({ status: 'success', data: ['cdb_api', 'cdb_core'] });
    expect(await (await get('/loki/api/v1/status/buildinfo')).json()).toMatchObject({ version: '2.7.5' });
    expect(await (await get('/ready')).text()).toBe('ready\n');
    loki.setReady(false);
    expect((await get('/ready')).status).toBe(503);
    loki.setReady(true);
    await loki.setFailure('503');
    const down = await get('/loki/api/v1/query_range', { query: '{container_name="cdb_core"}' });
    expect([down.status, await down.text()]).toEqual([503, 'Loki is down']);
    await loki.setFailure('refuse');
    await expect(get('/ready')).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
    await loki.setFailure(null);
    expect((await get('/ready')).status).toBe(200);
  });
});
