import type { KnownBlock } from '@slack/types';

export type Block = KnownBlock;

/** Slack caps a section's text at 3000 characters and a message at 50 blocks. */
export const SECTION_MAX = 3000;
export const MESSAGE_MAX_BLOCKS = 50;

/** Escapes the three characters mrkdwn treats as control characters. */
export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
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
