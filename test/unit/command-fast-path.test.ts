// The gate's own answer to `/cdb` over HTTP speaks Bolt's wire format: the ack is the HTTP response,
// respond() POSTs JSON to response_url, a refused request is answered by the guard alone, a listener
// that throws gets 400 (never 500) and one log line, and an unacknowledged request 404 after 3 s.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { fastSlashCommands, type FastPathDeps } from '../../src/bot/command-fast-path.ts';
import { createLogger } from '../../src/shared/log.ts';

const FIELDS = { command: '/cdb', text: 'status', user_id: 'U0FAST01', team_id: 'T0001', channel_id: 'C0FAST01' };
const servers: Server[] = [];

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function logSink(): { lines: string[]; log: FastPathDeps['log'] } {
  const lines: string[] = [];
  const destination = new Writable({ write: (c: Buffer, _e, cb) => { lines.push(c.toString()); cb(); } });
  return { lines, log: createLogger({ level: 'info', destination }) };
}

/** An app whose gate answers every POST with the fast path and the given fields. */
async function app(deps: Omit<FastPathDeps, 'log'>, fields: Record<string, string> = FIELDS): Promise<{ url: string; lines: string[] }> {
  const { lines, log } = logSink();
  const handle = fastSlashCommands({ ...deps, log });
  const url = await listen((req, res) => handle(req, res, fields));
  return { url, lines };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

describe('the gate answers /cdb itself, as Bolt would', () => {
  it('acks with the message as JSON and passes the guard’s request id to the handler', async () => {
    let seen: string | undefined;
    const { url } = await app({
      guard: async () => ({ requestId: 'req-fast-0001' }),
      handle: async (cmd, io) => {
        seen = io.requestId;
        await io.ack({ response_type: 'ephemeral', text: `hello ${cmd.user_id}: ${cmd.text}` });
      },
    });
    const res = await fetch(url, { method: 'POST' });
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ response_type: 'ephemeral', text: 'hello U0FAST01: status' });
    expect(seen).toBe('req-fast-0001');
  });

  it('lets the guard answer a refused request, and runs nothing', async () => {
    let ran = false;
    const { url } = await app({
      guard: async ({ ack }) => {
        await ack?.();
        return false;
      },
      handle: async () => void (ran = true),
    });
    const res = await fetch(url, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(ran).toBe(false);
  });

  it('follows up through response_url with JSON, and fails loudly when Slack refuses it', async () => {
    const posted: unknown[] = [];
    let status = 200;
    const responseUrl = await listen((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        posted.push({ type: req.headers['content-type'], body: JSON.parse(body) as unknown });
        res.writeHead(status).end();
      });
    });
    const results: string[] = [];
    const { url } = await app({
      guard: async () => ({}),
      handle: async (_cmd, io) => {
        await io.ack({ response_type: 'ephemeral', text: 'working' });
        await io.respond({ response_type: 'ephemeral', replace_original: true, text: 'done' });
        results.push('first ok');
        status = 404;
        await io.respond({ response_type: 'ephemeral', text: 'again' }).catch((err: Error) => results.push(err.message));
      },
    }, { ...FIELDS, response_url: `${responseUrl}/commands/T0001/1/abc` });
    expect(await (await fetch(url, { method: 'POST' })).json()).toMatchObject({ text: 'working' });
    await expect.poll(() => results.length).toBe(2);
    expect(posted[0]).toEqual({ type: 'application/json', body: { response_type: 'ephemeral', replace_original: true, text: 'done' } });
    expect(results[1]).toMatch(/response_url: 404/);
  });

  it('answers 400 when the handler throws before acking, and logs it once', async () => {
    const { url, lines } = await app({ guard: async () => ({}), handle: async () => { throw new Error('a bug of ours'); } });
    const res = await fetch(url, { method: 'POST' });
    expect(res.status).toBe(400);
    await expect.poll(() => lines.filter((l) => l.includes('slash command failed')).length).toBe(1);
    expect(lines.join('')).toContain('a bug of ours');
  });

  it('answers 404 when nothing acked within 3 s, like Bolt', async () => {
    const { url, lines } = await app({ guard: () => new Promise(() => undefined), handle: async () => undefined });
    const res = await fetch(url, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(lines.join('')).toContain('not acknowledged within 3 seconds');
  });
});
