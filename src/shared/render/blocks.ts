import type { KnownBlock } from '@slack/types';

export type Block = KnownBlock;

/** Slack caps a section's text at 3000 characters and a message at 50 blocks. */
export const SECTION_MAX = 3000;
export const MESSAGE_MAX_BLOCKS = 50;

/**
 * Characters never echoed raw: NUL and the other control characters (but tab, newline and carriage
 * return), and the bidi marks, embeddings, overrides and isolates that make text read differently
 * from what it is (a file name or a command that displays reversed).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Shows an unsafe character as its code point, e.g. `[U+202E]`, so the reader sees it was there. */
export function visibleControls(text: string): string {
  return text.replace(UNSAFE_CHARS, (c) => `[U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}]`);
}

/**
 * Escapes the three characters mrkdwn treats as control characters, so typed `<!channel>`, `<!here>`
 * or `<@U…>` stay text, and makes control and bidi characters visible. Every user-supplied string
 * goes through this before it reaches any message field.
 */
export function esc(text: string): string {
  return visibleControls(text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
}

/** Broadcast mentions the bot never writes itself; raw in an outgoing message, they came from input. */
const BROADCAST = /<!(channel|here|everyone)(\|[^>]*)?>/g;

/**
 * The net under `esc` for everything the bot sends (ack, response_url, chat.*, file titles): no
 * control or bidi character and no broadcast mention leaves raw, whatever a renderer forgot.
 * Mentions of users (`<@U…>`) cannot be told apart from the bot's own; renderers escape those.
 */
export function defang<T>(value: T): T {
  if (typeof value === 'string') return visibleControls(value).replace(BROADCAST, (m) => esc(m)) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => defang(v)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, defang(v)])) as T;
  }
  return value;
}

/** The same text for a terminal: no code marks, entities decoded. */
export function plainText(mrkdwn: string): string {
  return mrkdwn.replace(/`/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

export function clip(text: string, max = SECTION_MAX): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function section(markdown: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: clip(markdown) } };
}

export function fields(items: string[]): Block {
  return { type: 'section', fields: items.slice(0, 10).map((t) => ({ type: 'mrkdwn', text: clip(t, 2000) })) };
}

export function context(markdown: string): Block {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: clip(markdown) }] };
}

export function header(text: string): Block {
  return { type: 'header', text: { type: 'plain_text', text: clip(text, 150), emoji: true } };
}

export const divider: Block = { type: 'divider' };

/** Keeps a message inside Slack's block limit, saying what was left out. */
export function capBlocks(blocks: Block[], omittedNote: (n: number) => string): Block[] {
  if (blocks.length <= MESSAGE_MAX_BLOCKS) return blocks;
  const kept = blocks.slice(0, MESSAGE_MAX_BLOCKS - 1);
  return [...kept, context(omittedNote(blocks.length - kept.length))];
}
