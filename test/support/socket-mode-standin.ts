// Slack's Socket Mode side: `apps.connections.open` hands out a WebSocket URL; the server greets with
// `hello`, pushes envelopes and expects `{envelope_id, payload}` acks, exactly as Slack does.
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { SlackStandin } from './slack-standin.ts';

export const APP_TOKEN = 'xapp-1-A123456-0000000000-standinstandinstandinstandin';

export interface SocketModeStandin {
  /** Resolves once a client has connected and received `hello`. */
  connected(): Promise<void>;
  /** Sends a slash command envelope and resolves with the client's ack payload. */
  slashCommand(fields: Record<string, string>, opts?: { envelopeId?: string }): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startSocketModeStandin(slack: SlackStandin): Promise<SocketModeStandin> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const { port } = wss.address() as AddressInfo;
  slack.addToken(APP_TOKEN);
  slack.setMethod('apps.connections.open', (_args, token) =>
    token === APP_TOKEN ? { ok: true, url: `ws://127.0.0.1:${port}/link/?ticket=${randomUUID()}&app_id=A123456` } : { ok: false, error: 'not_allowed_token_type' },
  );
  let socket: WebSocket | undefined;
  const acks = new Map<string, (payload: Record<string, unknown>) => void>();
  const ready = new Promise<void>((resolve) => {
    wss.on('connection', (ws) => {
      socket = ws;
      ws.on('message', (data: Buffer) => {
        const msg = JSON.parse(data.toString()) as { envelope_id?: string; payload?: Record<string, unknown> };
        if (msg.envelope_id) acks.get(msg.envelope_id)?.(msg.payload ?? {});
      });
      ws.send(JSON.stringify({ type: 'hello', num_connections: 1, debug_info: { host: 'applink-standin', approximate_connection_time: 18060 }, connection_info: { app_id: 'A123456' } }));
      resolve();
    });
  });
  return {
    connected: () => ready,
    async slashCommand(fields, opts = {}) {
      await ready;
      // Slack may deliver an envelope again (e.g. after a reconnect) with the same id.
      const envelope_id = opts.envelopeId ?? randomUUID();
      const ack = new Promise<Record<string, unknown>>((resolve) => acks.set(envelope_id, resolve));
      socket?.send(JSON.stringify({ envelope_id, type: 'slash_commands', accepts_response_payload: true, payload: fields }));
      return ack;
    },
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}
