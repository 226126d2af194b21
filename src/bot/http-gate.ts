import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { SIGNATURE_WINDOW_SECONDS } from './request-guard.ts';
import { checkSignedBody } from './signed-body.ts';

export interface SignedGateOptions {
  readonly signingSecret: string;
  readonly log: Logger;
  /** The Request URL path Slack posts to. */
  readonly path?: string;
  /** Slack's bodies are a few kB; anything larger is not Slack. */
  readonly bodyLimit?: number;
  readonly nowSec?: () => number;
  /** Called for each request to the Slack path as it arrives (the bot's post-ack scheduling). */
  readonly onRequest?: (res: ServerResponse) => void;
  /** Our own slash command (`/cdb`), answered without Bolt (command-fast-path.ts); others go to Bolt. */
  readonly slashCommand?: { readonly command: string; readonly handle: (req: IncomingMessage, res: ServerResponse, fields: Readonly<Record<string, string>>) => void };
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

const SIGNATURE = /^v0=[0-9a-f]{64}$/;
const TIMESTAMP = /^\d{1,12}$/;

function reply(res: ServerResponse, status: number): void {
  if (res.headersSent) return;
  res.writeHead(status);
  res.end();
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * The one gate in front of Bolt's HTTP receiver: a request reaches Bolt only when it is signed with
 * our secret, its timestamp is within 5 minutes of now in either direction (Bolt refuses only old
 * ones), and its body has the shape our listeners read. Everything else is answered here — 401 or
 * 400 with one log line — and never reaches code that could throw on it. Replays and rate limits are
 * decided later, in one Redis call (guard-middleware.ts), for both transports alike.
 */
export function signedGate(opts: SignedGateOptions, forward: Listener): Listener {
  const path = opts.path ?? '/slack/events';
  const limit = opts.bodyLimit ?? 256 * 1024;
  const nowSec = opts.nowSec ?? (() => Math.floor(Date.now() / 1000));
  const log = opts.log.child({ component: 'signed-gate' });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req, limit);
    if (body === 'too-large') {
      log.warn({ limit }, 'refused: request body too large');
      return reply(res, 413);
    }
    const raw = body.toString('utf8');
    const contentType = String(req.headers['content-type'] ?? '');
    const checked = checkSignedBody(raw, contentType);
    // Slack's unsigned ssl_check: Bolt answers it and strips anything smuggled alongside.
    if (checked.ok && checked.body.kind === 'ssl_check') {
      Object.assign(req, { rawBody: body });
      return forward(req, res);
    }
    const ts = req.headers['x-slack-request-timestamp'];
    const sig = req.headers['x-slack-signature'];
    if (typeof ts !== 'string' || typeof sig !== 'string' || !TIMESTAMP.test(ts) || !SIGNATURE.test(sig)) {
      log.warn('refused: missing or malformed signature headers');
      return reply(res, 401);
    }
    const skew = Number(ts) - nowSec();
    if (Math.abs(skew) > SIGNATURE_WINDOW_SECONDS) {
      log.warn({ skewSeconds: skew }, skew > 0 ? 'refused: request timestamp is in the future' : 'refused: request timestamp is too old');
      return reply(res, 401);
    }
    const expected = Buffer.from(`v0=${createHmac('sha256', opts.signingSecret).update(`v0:${ts}:${raw}`).digest('hex')}`);
    if (!timingSafeEqual(expected, Buffer.from(sig))) {
      log.warn('refused: bad signature');
      return reply(res, 401);
    }
    if (!checked.ok) {
      log.warn({ why: checked.why, bytes: body.length }, 'refused: malformed signed body');
      return reply(res, 400);
    }
    const own = opts.slashCommand;
    if (own && checked.body.kind === 'command' && checked.body.command === own.command) return own.handle(req, res, checked.body.fields);
    // Bolt reuses an already-read body (BufferedIncomingMessage); its own signature check is off.
    Object.assign(req, { rawBody: body });
    forward(req, res);
  };

  return (req, res) => {
    // The same path reading as Bolt's receiver (WHATWG URL): every request Bolt would take as an event
    // passes this gate, which is what lets Bolt skip its own signature check (create-app.ts).
    let pathname: string = path;
    // The common case, the path exactly, needs no URL parse.
    if (req.url !== path) {
      try {
        pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
      } catch {
        return reply(res, 400);
      }
    }
    if (req.method?.toUpperCase() !== 'POST' || pathname !== path) return forward(req, res);
    opts.onRequest?.(res);
    handle(req, res).catch((err: unknown) => {
      log.warn({ err: { message: err instanceof Error ? err.message : String(err) } }, 'refused: request could not be read');
      reply(res, 400);
    });
  };
}
