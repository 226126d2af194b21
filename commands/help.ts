import { z } from 'zod';
import { defineCommand, type AnyCommand, type AnswerContext } from '../src/shared/registry/define-command.ts';
import { esc, section, context } from '../src/shared/render/blocks.ts';

const args = z.object({ command: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'a subcommand name').optional() }).strict();

function describe(cmd: AnyCommand, prefix: string): string {
  const lines = [`\`${prefix} ${cmd.usage}\` — ${cmd.summary}`];
  if (cmd.help) lines.push(cmd.help);
  lines.push(`Role: ${cmd.role}${cmd.approval ? ' · needs a second person’s approval' : ''}`);
  for (const ex of cmd.examples ?? []) lines.push(`e.g. \`${prefix} ${ex}\``);
  return lines.join('\n');
}

function pick(name: string | undefined, ctx: AnswerContext): AnyCommand | undefined {
  return name ? ctx.registry.get(name) : undefined;
}

function overview(ctx: AnswerContext, prefix: string): string[] {
  return [...ctx.registry.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((c) => `\`${prefix} ${c.usage}\` — ${c.summary}${c.approval ? ' (approval)' : ''}`);
}

export default defineCommand({
  kind: 'answer',
  name: 'help',
  summary: 'What each command does; `help <command>` for details.',
  usage: 'help [command]',
  examples: ['help', 'help status'],
  role: 'everyone',
  positionals: ['command'],
  args,
  answer({ command }, ctx) {
    const cmd = pick(command, ctx);
    if (command && !cmd) return { text: `There is no command \`${esc(command)}\`. Try \`/cdb help\`.` };
    if (cmd) return { text: describe(cmd, '/cdb'), blocks: [section(esc(describe(cmd, '/cdb')))] };
    const lines = overview(ctx, '/cdb');
    return {
      text: `cdb commands:\n${lines.join('\n')}`,
      blocks: [section(`*cdb commands*\n${esc(lines.join('\n'))}`), context('`/cdb help <command>` shows details, roles and examples. With several targets, any command takes `--on <target>` (`/cdb targets` lists them).')],
    };
  },
  text({ command }, ctx) {
    const cmd = pick(command, ctx);
    if (command && !cmd) return `There is no command "${command}". Try: cdb help`;
    if (cmd) return describe(cmd, 'cdb').replace(/`/g, '');
    return `cdb commands:\n${overview(ctx, 'cdb').join('\n').replace(/`/g, '')}`;
  },
});
