import { defineCommand } from '../src/shared/registry/define-command.ts';
import { tagsArgs, type TagSummary, type TagsResult } from '../src/shared/contracts/rollback.ts';
import { capBlocks, context, esc, header, section, type Block } from '../src/shared/render/blocks.ts';
import { textTable } from '../src/shared/render/table.ts';

function state(t: TagSummary): string {
  const parts: string[] = [];
  parts.push(t.differs.length ? `differs: ${t.differs.join(', ')}` : 'matches what runs now');
  if (t.missing.length) parts.push(`no container: ${t.missing.join(', ')}`);
  return parts.join('; ');
}

function when(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

function pinLine(result: TagsResult): string | undefined {
  const pins = Object.entries(result.pins);
  if (!pins.length) return undefined;
  return `Pinned by ${result.overlayPath ?? 'the overlay'}: ${pins.map(([s, t]) => `${s} → ${t}`).join(', ')}`;
}

export default defineCommand({
  kind: 'job',
  name: 'tags',
  summary: 'Rollback tags, newest first, and which services differ from what runs now.',
  usage: 'tags [--limit=N]',
  examples: ['tags'],
  role: 'viewer',
  args: tagsArgs,
  job: 'tags',
  slack(result: TagsResult) {
    const title = `Rollback tags · ${result.project}`;
    if (!result.tags.length) return { text: `${title}: none`, blocks: [header(title), section('No tags yet. `/cdb tag` records the current state.')] };
    const blocks: Block[] = [header(title)];
    const pins = pinLine(result);
    if (pins) blocks.push(section(`:pushpin: ${esc(pins)}`));
    for (const t of result.tags) {
      const icon = t.differs.length || t.missing.length ? ':white_circle:' : ':large_green_circle:';
      blocks.push(section(`${icon} \`${t.tag}\`${t.pinned ? ' :pushpin:' : ''}  ${t.kind === 'pre-rollback' ? '_undo point of a rollback_' : ''}\n${when(t.createdAt)} · by ${esc(t.createdBy)} · ${t.services} services · ${esc(state(t))}`));
    }
    blocks.push(context(`The newest ${result.keep} tags are kept. \`/cdb rollback <tag> [service…]\` rolls back (needs approval).`));
    return { text: `${title}: ${result.tags.length}`, blocks: capBlocks(blocks, (n) => `…and ${n} more.`) };
  },
  text(result: TagsResult) {
    if (!result.tags.length) return `No rollback tags for ${result.project} yet. Make one with: cdb tag`;
    const table = textTable(['TAG', 'CREATED', 'BY', 'SERVICES', 'STATE'], result.tags.map((t) => [`${t.tag}${t.pinned ? ' (pinned)' : ''}`, when(t.createdAt), t.createdBy, String(t.services), state(t)]));
    const pins = pinLine(result);
    return `${table}${pins ? `\n\n${pins}` : ''}`;
  },
});
