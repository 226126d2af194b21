import { z } from 'zod';

/**
 * The shapes a signed body must have before Bolt sees it. Bolt trusts a verified body's structure
 * (`payload=null` crashed the process, a block_actions without `user` gave 500): everything below is
 * the minimum our listeners and Bolt's routing read, and anything else is answered 400.
 */
const id = z.string().min(1).max(64);
const person = z.object({ id, team_id: z.string().max(64).optional() }).loose();
const team = z.object({ id }).loose().nullable().optional();

const slashCommand = z
  .object({
    command: z.string().regex(/^\/[a-z0-9_-]{1,32}$/),
    text: z.string().max(4000).default(''),
    user_id: id,
    team_id: id,
    channel_id: id,
    trigger_id: z.string().max(200).optional(),
    response_url: z.string().max(500).optional(),
  })
  .loose();

const action = z
  .object({
    action_id: z.string().min(1).max(255),
    block_id: z.string().max(255).optional(),
    type: z.string().max(64).optional(),
    // Buttons carry strings; an object here is not something Slack sends.
    value: z.string().max(2000).optional(),
  })
  .loose();

const blockActions = z
  .object({
    type: z.literal('block_actions'),
    user: person,
    team,
    actions: z.array(action).min(1).max(25),
    trigger_id: z.string().max(200).optional(),
    api_app_id: z.string().max(64).optional(),
    container: z.object({}).loose().optional(),
    channel: z.object({ id }).loose().optional(),
    message: z.object({ ts: z.string().max(40) }).loose().optional(),
  })
  .loose();

const viewPayload = z
  .object({
    type: z.enum(['view_submission', 'view_closed']),
    user: person,
    team,
    view: z
      .object({
        id: z.string().min(1).max(64),
        callback_id: z.string().max(255).default(''),
        private_metadata: z.string().max(3000).default(''),
        state: z.object({ values: z.record(z.string(), z.record(z.string(), z.object({}).loose())) }).loose().optional(),
      })
      .loose(),
  })
  .loose();

// Other interactive payloads (shortcuts, options requests...): routed by type, read by no listener of ours.
const otherInteractive = z
  .object({ type: z.enum(['shortcut', 'message_action', 'block_suggestion', 'interactive_message', 'dialog_submission']), user: person })
  .loose();

const eventCallback = z
  .object({
    type: z.literal('event_callback'),
    event_id: z.string().min(1).max(64),
    team_id: z.string().max(64).optional(),
    event: z.object({ type: z.string().min(1).max(64) }).loose(),
  })
  .loose();
const urlVerification = z.object({ type: z.literal('url_verification'), challenge: z.string().min(1).max(200) }).loose();
const appRateLimited = z.object({ type: z.literal('app_rate_limited') }).loose();

export type SignedBody =
  | { readonly kind: 'command'; readonly userId: string; readonly text: string; readonly command: string; readonly fields: Readonly<Record<string, string>> }
  | { readonly kind: 'interactive'; readonly type: string }
  | { readonly kind: 'event'; readonly eventId?: string }
  | { readonly kind: 'ssl_check' };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Classifies a signed body or says (briefly, for one log line) why it is malformed. */
export function checkSignedBody(raw: string, contentType: string): { ok: true; body: SignedBody } | { ok: false; why: string } {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/json') {
    let doc: unknown;
    try {
      doc = JSON.parse(raw);
    } catch {
      return { ok: false, why: 'body is not JSON' };
    }
    if (!isObject(doc)) return { ok: false, why: 'JSON body is not an object' };
    if (eventCallback.safeParse(doc).success) return { ok: true, body: { kind: 'event', eventId: String(doc.event_id) } };
    if (urlVerification.safeParse(doc).success || appRateLimited.safeParse(doc).success) return { ok: true, body: { kind: 'event' } };
    return { ok: false, why: `unexpected JSON body (type ${typeof doc.type === 'string' ? doc.type.slice(0, 40) : typeof doc.type})` };
  }
  if (type !== 'application/x-www-form-urlencoded') return { ok: false, why: `unexpected content type ${type.slice(0, 60) || '(none)'}` };
  // One pass over the form: the fields as a plain object, and Bolt's reading of a repeated field as an
  // array (user_id=[a,b]) refused, since we would read it differently.
  // No prototype: a field named `__proto__` is a field like any other.
  const fields = Object.create(null) as Record<string, string>;
  for (const [k, v] of new URLSearchParams(raw)) {
    if (Object.hasOwn(fields, k)) return { ok: false, why: 'a form field is repeated' };
    fields[k] = v;
  }
  if (fields.ssl_check === '1') return { ok: true, body: { kind: 'ssl_check' } };
  const payload = fields.payload;
  if (payload !== undefined) {
    let doc: unknown;
    try {
      doc = JSON.parse(payload);
    } catch {
      return { ok: false, why: 'payload is not JSON' };
    }
    if (!isObject(doc)) return { ok: false, why: 'payload is not an object' };
    for (const schema of [blockActions, viewPayload, otherInteractive]) {
      if (schema.safeParse(doc).success) return { ok: true, body: { kind: 'interactive', type: String(doc.type) } };
    }
    return { ok: false, why: `malformed interactive payload (type ${typeof doc.type === 'string' ? doc.type.slice(0, 40) : typeof doc.type})` };
  }
  // Slash commands are the ack's hot path: the same rules as `slashCommand`, checked by hand
  // (a zod parse per request was a visible share of the ack's CPU; the unit test keeps them equal).
  const cmd = quickSlashCommand(fields);
  if (!cmd) return { ok: false, why: 'malformed slash command' };
  return { ok: true, body: { kind: 'command', userId: cmd.userId, text: cmd.text, command: cmd.command, fields } };
}

const COMMAND = /^\/[a-z0-9_-]{1,32}$/;
const isId = (v: string | undefined): v is string => v !== undefined && v.length >= 1 && v.length <= 64;

/** `slashCommand.safeParse` without zod: undefined where the schema would refuse. */
export function quickSlashCommand(fields: Readonly<Record<string, string>>): { userId: string; text: string; command: string } | undefined {
  const { command, user_id: userId, trigger_id: trigger, response_url: responseUrl } = fields;
  const text = fields.text ?? '';
  if (command === undefined || !COMMAND.test(command) || text.length > 4000) return undefined;
  if (!isId(userId) || !isId(fields.team_id) || !isId(fields.channel_id)) return undefined;
  if ((trigger !== undefined && trigger.length > 200) || (responseUrl !== undefined && responseUrl.length > 500)) return undefined;
  return { userId, text, command };
}

/** The schema the quick check mirrors (test/unit/signed-body-quick.test.ts compares them). */
export function schemaSlashCommand(fields: Readonly<Record<string, string>>): { userId: string; text: string; command: string } | undefined {
  const cmd = slashCommand.safeParse(fields);
  return cmd.success ? { userId: cmd.data.user_id, text: cmd.data.text, command: cmd.data.command } : undefined;
}
