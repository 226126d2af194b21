import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { GuardedRequest } from './guard-middleware.ts';
import { signedRequestId } from './request-guard.ts';
import type { SlashCommandFields, SlashCommandIo } from './slash-command.ts';

/** Bolt's own limit for an unacknowledged request, and its answer then (404). */
export const UNACKED_MS = 3001;

export interface FastPathDeps {
  readonly guard: (req: GuardedRequest) => Promise<{ requestId?: string } | false>;
  readonly handle: (command: SlashCommandFields, io: SlashCommandIo) => Promise<void>;
  readonly log: Logger;
  /** What `respond` posts with (Bolt's own choice: the global fetch). */
  readonly fetch?: typeof fetch;
}

/** Bolt's buildContentResponse: an empty 200, or the message as JSON. */
function sendAck(res: ServerResponse, body?: unknown): void {
  if (!body) {
    res.writeHead(200);
    res.end();
  } else {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }
}

/**
 * Our own slash command over HTTP, answered by the gate instead of Bolt's receiver and middleware
 * chain: the same guard, the same handler and the same wire answers (Bolt's ack and respond), without
 * parsing the body a second time and routing it through listeners that never match it. Bolt's
 * per-request cost was what stood between the ack and a bare Bolt app's (BENCHMARKS.md, ack).
 * Socket Mode, interactivity and events still go through Bolt.
 */
export function fastSlashCommands(deps: FastPathDeps): (req: IncomingMessage, res: ServerResponse, fields: Readonly<Record<string, string>>) => void {
  const post = deps.fetch ?? fetch;
  const log = deps.log.child({ component: 'slash-command' });
  return (req, res, fields) => {
    let acked = false;
    // Slack gets one answer: the ack, or a bare status when nothing acked (404) or our code threw (400).
    const answerOnce = (write: () => void): boolean => {
      if (acked) return false;
      acked = true;
      clearTimeout(timer);
      if (!res.headersSent) write();
      return true;
    };
    const timer = setTimeout(() => {
      if (answerOnce(() => res.writeHead(404).end())) log.error('An incoming slash command was not acknowledged within 3 seconds.');
    }, UNACKED_MS);
    const ack = async (body?: unknown): Promise<void> => void answerOnce(() => sendAck(res, body));
    const responseUrl = fields.response_url;
    const respond = async (message: object): Promise<unknown> => {
      if (!responseUrl) throw new Error('the slash command carried no response_url');
      const r = await post(responseUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(message) });
      if (!r.ok) throw new Error(`Failed to respond to the response_url: ${r.status} ${r.statusText}`);
      return r;
    };
    const run = async (): Promise<void> => {
      const replayId = signedRequestId(String(req.headers['x-slack-signature']));
      const passed = await deps.guard({ body: fields, replayId, ack });
      if (!passed) return;
      const command: SlashCommandFields = { text: fields.text ?? '', user_id: fields.user_id ?? '', team_id: fields.team_id ?? '', channel_id: fields.channel_id ?? '', user_name: fields.user_name };
      await deps.handle(command, { requestId: passed.requestId, ack, respond });
    };
    run().catch((err: unknown) => {
      // A bug of ours, logged once (as app.error does for Bolt's listeners); Slack gets no 500 for it.
      log.error({ err: { message: err instanceof Error ? err.message : String(err) } }, 'slash command failed');
      answerOnce(() => res.writeHead(400).end());
    });
  };
}
