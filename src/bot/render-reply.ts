import type { Reply } from '../shared/contracts/envelope.ts';
import type { SlackMessage } from '../shared/registry/define-command.ts';
import type { Registry } from '../shared/registry/registry.ts';
import { context, esc, section } from '../shared/render/blocks.ts';

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Turns a worker reply into a chat message using the command module's own renderer. */
export function replyToSlack(reply: Exclude<Reply, { type: 'notice' }>, registry: Registry): SlackMessage {
  if (reply.type === 'progress') {
    const on = reply.target ? `[${reply.target}] ` : '';
    return { text: `:hourglass_flowing_sand: ${esc(on + reply.text)}`, blocks: [section(`:hourglass_flowing_sand: ${esc(on + reply.text)}`)] };
  }
  if (reply.type === 'error') {
    const text = `:x: \`/cdb ${reply.command}\`${reply.target ? ` on \`${reply.target}\`` : ''} failed: ${reply.message}`;
    return { text, blocks: [section(text), context(`${reply.code} · request \`${reply.requestId}\` · ${seconds(reply.durationMs)}`)] };
  }
  const command = registry.get(reply.command);
  if (!command || command.kind !== 'job') return { text: `\`/cdb ${reply.command}\` finished, but this bot cannot display its result. Is the bot older than the worker?` };
  const args = command.args.safeParse(reply.args);
  const message = command.slack(reply.result, args.success ? args.data : {});
  const footer = context(`${reply.target ? `target *${esc(reply.target)}* · ` : ''}request \`${reply.requestId}\` · ${seconds(reply.durationMs)}`);
  return { text: reply.target ? `[${reply.target}] ${message.text}` : message.text, blocks: [...(message.blocks ?? [section(esc(message.text))]), footer], file: message.file, thread: message.thread };
}

/** The same reply as terminal text. */
export function replyToText(reply: Reply, registry: Registry): string {
  if (reply.type === 'notice') return `[${reply.key}] ${reply.text}`;
  const on = reply.target ? `[${reply.target}] ` : '';
  if (reply.type === 'progress') return `… ${on}${reply.text}`;
  if (reply.type === 'error') return `✗ ${on}${reply.command} failed (${reply.code}): ${reply.message}`;
  const command = registry.get(reply.command);
  if (!command || command.kind !== 'job') return `${reply.command} finished.`;
  const args = command.args.safeParse(reply.args);
  return `${on}${command.text(reply.result, args.success ? args.data : {})}`;
}
