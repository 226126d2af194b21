// Helpers that produce requests exactly as Slack sends them to an app's Request URL:
// the v0 signature headers, slash-command form bodies and interactive `payload=` bodies.
import { createHmac, randomBytes } from 'node:crypto';

/** A trigger_id shaped like Slack's (`<digits>.<digits>.<hex>`), different on every call. */
export function freshTriggerId(): string {
  return `${Date.now()}.${randomBytes(4).readUInt32BE()}.${randomBytes(16).toString('hex')}`;
}

export interface SlackSignatureHeaders {
  'x-slack-signature': string;
  'x-slack-request-timestamp': string;
}

/** Slack's v0 signature: `v0=` + hex(HMAC-SHA256(secret, `v0:${ts}:${body}`)). */
export function signSlackRequest(
  body: string,
  signingSecret: string,
  timestampSec: number = Math.floor(Date.now() / 1000),
): SlackSignatureHeaders {
  const ts = String(Math.floor(timestampSec));
  const hash = createHmac('sha256', signingSecret).update(`v0:${ts}:${body}`).digest('hex');
  return { 'x-slack-signature': `v0=${hash}`, 'x-slack-request-timestamp': ts };
}

export interface SlashCommandFields {
  token: string;
  team_id: string;
  team_domain: string;
  /** Only sent for Enterprise Grid workspaces; omitted from the body when undefined. */
  enterprise_id?: string;
  enterprise_name?: string;
  channel_id: string;
  channel_name: string;
  user_id: string;
  user_name: string;
  command: string;
  text: string;
  api_app_id: string;
  is_enterprise_install: string;
  response_url: string;
  trigger_id: string;
}

export const slashCommandDefaults: SlashCommandFields = {
  token: 'gIkuvaNzQIHg97ATvDxqgjtO',
  team_id: 'T0001',
  team_domain: 'example',
  channel_id: 'C2147483705',
  channel_name: 'ops',
  user_id: 'U2147483697',
  user_name: 'steve',
  command: '/cdb',
  text: '',
  api_app_id: 'A123456',
  is_enterprise_install: 'false',
  response_url: 'https://hooks.slack.com/commands/T0001/1234/5678',
  trigger_id: '13345224609.738474920.8088930838d88f008e0',
};

// Field order as observed on the wire from Slack.
const SLASH_ORDER: ReadonlyArray<keyof SlashCommandFields> = [
  'token', 'team_id', 'team_domain', 'enterprise_id', 'enterprise_name', 'channel_id', 'channel_name',
  'user_id', 'user_name', 'command', 'text', 'api_app_id', 'is_enterprise_install', 'response_url', 'trigger_id',
];

/** The `application/x-www-form-urlencoded` body Slack POSTs for a slash command invocation. */
export function slashCommandBody(fields: Partial<SlashCommandFields> = {}): string {
  // Slack gives every invocation its own trigger_id: two identical commands are two different bodies
  // (and signatures), which the bot's replay protection relies on.
  const all: Partial<SlashCommandFields> = { ...slashCommandDefaults, trigger_id: freshTriggerId(), ...fields };
  const params = new URLSearchParams();
  for (const key of SLASH_ORDER) {
    const value = all[key];
    if (value !== undefined) params.append(key, value);
  }
  return params.toString();
}

/** The body Slack POSTs for interactive payloads (block_actions, view_submission, ...): `payload=<urlencoded JSON>`. */
export function blockActionsBody(payload: object): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export interface PostSignedOptions {
  /** Signature timestamp in seconds (default: now). Use an old value to test replay protection. */
  timestampSec?: number;
  /** Default `application/x-www-form-urlencoded`; use `application/json` for Events API bodies. */
  contentType?: string;
  headers?: Record<string, string>;
  /** Override the computed signature (e.g. to test a forged request). */
  signature?: string;
  signal?: AbortSignal;
}

/** POSTs `body` to `url` signed with `secret`, like Slack does, and returns the raw Response. */
export async function postSigned(
  url: string,
  body: string,
  secret: string,
  opts: PostSignedOptions = {},
): Promise<Response> {
  const signed = signSlackRequest(body, secret, opts.timestampSec);
  const headers: Record<string, string> = {
    'content-type': opts.contentType ?? 'application/x-www-form-urlencoded',
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    ...signed,
    ...(opts.signature !== undefined ? { 'x-slack-signature': opts.signature } : {}),
    ...opts.headers,
  };
  const init: RequestInit = { method: 'POST', headers, body };
  if (opts.signal) init.signal = opts.signal;
  return fetch(url, init);
}

/**
 * The `payload=` body of a view_submission for a modal the stand-in opened: `values` maps
 * block_id → action_id → typed value (plain_text_input), as Slack sends them in view.state.
 */
export function viewSubmissionBody(view: { id: string; callback_id?: string; private_metadata?: string; hash?: string },
  user: { id: string; team_id?: string }, values: Record<string, Record<string, string>>): string {
  const state = Object.fromEntries(Object.entries(values).map(([block, actions]) => [block,
    Object.fromEntries(Object.entries(actions).map(([action, value]) => [action, { type: 'plain_text_input', value }]))]));
  const team = user.team_id ?? 'T0001';
  return blockActionsBody({
    type: 'view_submission', team: { id: team, domain: 'example' },
    user: { id: user.id, username: user.id.toLowerCase(), name: user.id.toLowerCase(), team_id: team },
    api_app_id: 'A123456', token: 'legacy', trigger_id: freshTriggerId(),
    view: { id: view.id, team_id: team, type: 'modal', callback_id: view.callback_id ?? '', private_metadata: view.private_metadata ?? '', hash: view.hash ?? '1', state: { values: state }, app_id: 'A123456', bot_id: 'B0CDBBOT' },
    response_urls: [], is_enterprise_install: false, enterprise: null,
  });
}
