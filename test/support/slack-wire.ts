// How the Slack stand-in reads requests and checks what it is sent, as the Web API does: bodies in
// JSON, urlencoded or multipart form (form fields that Slack parses as JSON parsed likewise), and
// Slack's own limits and error strings for Block Kit blocks and modals.
import type { IncomingMessage } from 'node:http';

export type Json = Record<string, unknown>;

const JSON_FIELDS = new Set(['blocks', 'attachments', 'metadata', 'files', 'view', 'unfurls', 'user_auth_blocks']);

export const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const fail = (error: string, extra: Json = {}): Json => ({ ok: false, error, ...extra });

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

/** Parses JSON, urlencoded and multipart bodies; form values keep Slack's string typing except JSON_FIELDS. */
export async function parseBody(raw: Buffer, contentType: string): Promise<{ fields: Json; files: Buffer[]; json: boolean }> {
  const fields: Json = {};
  const files: Buffer[] = [];
  if (contentType.startsWith('application/json')) {
    const parsed: unknown = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    if (!isObj(parsed)) throw new Error('invalid_json');
    return { fields: parsed, files, json: true };
  }
  if (contentType.startsWith('multipart/form-data')) {
    const form = await new Response(new Uint8Array(raw), { headers: { 'content-type': contentType } }).formData();
    for (const [key, value] of form.entries()) {
      if (typeof value === 'string') fields[key] = value;
      else files.push(Buffer.from(await value.arrayBuffer()));
    }
  } else {
    for (const [key, value] of new URLSearchParams(raw.toString('utf8'))) fields[key] = value;
  }
  for (const key of Object.keys(fields)) {
    const v = fields[key];
    if (JSON_FIELDS.has(key) && typeof v === 'string') {
      try { fields[key] = JSON.parse(v); } catch { /* left as string: handlers report invalid_*_format */ }
    }
  }
  return { fields, files, json: false };
}

/** Slack's limits on a modal (views.open / views.update), with its error strings. */
export function viewErrors(view: Json): Json | undefined {
  const text = (v: unknown): string | undefined => (isObj(v) && v.type === 'plain_text' && typeof v.text === 'string' ? v.text : undefined);
  if (view.type !== 'modal') return fail('invalid_arguments', { response_metadata: { messages: ['[ERROR] must be modal [json-pointer:/view/type]'] } });
  const title = text(view.title);
  if (!title || title.length > 24) return fail('invalid_arguments', { response_metadata: { messages: ['[ERROR] title must be plain_text of at most 24 characters [json-pointer:/view/title]'] } });
  for (const key of ['submit', 'close'] as const) {
    if (view[key] !== undefined && ((text(view[key])?.length ?? 99) > 24)) return fail('invalid_arguments', { response_metadata: { messages: [`[ERROR] ${key} must be plain_text of at most 24 characters [json-pointer:/view/${key}]`] } });
  }
  if (typeof view.private_metadata === 'string' && view.private_metadata.length > 3000) return fail('invalid_arguments', { response_metadata: { messages: ['[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]'] } });
  if (typeof view.callback_id === 'string' && view.callback_id.length > 255) return fail('invalid_arguments');
  if (!Array.isArray(view.blocks) || view.blocks.length > 100) return fail('invalid_arguments', { response_metadata: { messages: ['[ERROR] blocks must be an array of at most 100 [json-pointer:/view/blocks]'] } });
  const errs = blockErrors(view.blocks);
  if (errs === 'format' || errs.length) return fail('invalid_blocks', { errors: errs });
  // An input block with a submit button is what a form needs; an input without submit is refused.
  if (view.blocks.some((b) => isObj(b) && b.type === 'input') && view.submit === undefined) return fail('invalid_arguments', { response_metadata: { messages: ['[ERROR] submit is required when using input blocks [json-pointer:/view]'] } });
  return undefined;
}

/** A subset of Slack's Block Kit validation, with its error strings. */
export function blockErrors(blocks: unknown): string[] | 'format' {
  if (!Array.isArray(blocks)) return 'format';
  const errs: string[] = [];
  const max = (value: unknown, limit: number, ptr: string): void => {
    if (typeof value === 'string' && value.length > limit) errs.push(`must be less than ${limit + 1} characters [json-pointer:${ptr}]`);
  };
  if (blocks.length > 50) errs.push('no more than 50 items allowed [json-pointer:/blocks]');
  blocks.forEach((b: unknown, i) => {
    const p = `/blocks/${i}`;
    if (!isObj(b) || typeof b.type !== 'string') { errs.push(`missing required field: type [json-pointer:${p}]`); return; }
    max(b.block_id, 255, `${p}/block_id`);
    const text = isObj(b.text) ? b.text : undefined;
    if (b.type === 'section') {
      if (text) max(text.text, 3000, `${p}/text/text`);
      if (Array.isArray(b.fields)) {
        if (b.fields.length > 10) errs.push(`must provide no more than 10 items [json-pointer:${p}/fields]`);
        b.fields.forEach((f: unknown, j) => { if (isObj(f)) max(f.text, 2000, `${p}/fields/${j}/text`); });
      }
      if (!text && !Array.isArray(b.fields)) errs.push(`must provide either text or fields [json-pointer:${p}]`);
    }
    if (b.type === 'header' && text) max(text.text, 150, `${p}/text/text`);
    const limit = b.type === 'context' ? 10 : b.type === 'actions' ? 25 : Infinity;
    if (Array.isArray(b.elements) && b.elements.length > limit) errs.push(`must provide no more than ${limit} items [json-pointer:${p}/elements]`);
  });
  return errs;
}
