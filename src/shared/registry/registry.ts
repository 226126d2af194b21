import { z } from 'zod';
import { OpsError } from '../errors.ts';
import { tokenize } from './tokenize.ts';
import { esc } from '../render/blocks.ts';
import { loadDefaultExports } from './load-modules.ts';
import type { AnyCommand } from './define-command.ts';

export type Registry = ReadonlyMap<string, AnyCommand>;

export function buildRegistry(commands: AnyCommand[]): Registry {
  const map = new Map<string, AnyCommand>();
  for (const cmd of commands) {
    if (map.has(cmd.name)) throw new Error(`two commands are named ${cmd.name}`);
    map.set(cmd.name, cmd);
  }
  return map;
}

export async function loadRegistry(): Promise<Registry> {
  return buildRegistry((await loadDefaultExports('commands')) as AnyCommand[]);
}

export interface ResolvedCommand {
  readonly command: AnyCommand;
  readonly args: Record<string, unknown>;
  readonly flags: Record<string, string | true>;
  /** `--on <target>`, taken by every command; which targets exist is the dispatcher's business. */
  readonly target?: string;
}

/** Options every command accepts; they shape output, not the request. */
const PRESENTATION_FLAGS = new Set(['json']);
const TARGET = /^[a-z][a-z0-9-]{0,23}$/;

function closest(name: string, registry: Registry): string | undefined {
  return [...registry.keys()].find((k) => k.startsWith(name.slice(0, 2)));
}

function formatIssues(error: z.ZodError, cmd: AnyCommand): string {
  const lines = error.issues.slice(0, 5).map((i) => {
    if (i.code === 'unrecognized_keys') return `unknown option ${i.keys.map((k) => `--${k}`).join(', ')}`;
    const where = i.path.length ? `${i.path.join('.')}: ` : '';
    return `${where}${i.message}`;
  });
  return `${esc(lines.join('; '))}. Usage: \`/cdb ${esc(cmd.usage)}\``;
}

/** Turns `status web --since 15m` into a command and validated arguments, or a friendly OpsError. */
export function resolveCommand(registry: Registry, text: string): ResolvedCommand {
  const { words, flags } = tokenize(text.trim());
  const [name = 'help', ...rest] = words;
  const command = registry.get(name.toLowerCase());
  if (!command) {
    const hint = closest(name.toLowerCase(), registry);
    throw new OpsError('UNKNOWN_COMMAND', `I don’t know \`${esc(name.slice(0, 40))}\`.${hint ? ` Did you mean \`${hint}\`?` : ''} Type \`/cdb help\` for the list.`);
  }
  const input: Record<string, unknown> = {};
  const positionals = command.positionals ?? [];
  for (const [i, word] of rest.entries()) {
    const slot = positionals[i] ?? positionals.at(-1);
    if (slot?.startsWith('...')) {
      const key = slot.slice(3);
      input[key] = [...((input[key] as string[] | undefined) ?? []), word];
    } else if (slot && i < positionals.length) {
      input[slot] = word;
    } else {
      throw new OpsError('BAD_ARGUMENTS', `Too many arguments (\`${esc(word.slice(0, 40))}\`). Usage: \`/cdb ${esc(command.usage)}\``);
    }
  }
  const presentation: Record<string, string | true> = {};
  let target: string | undefined;
  for (const [key, value] of Object.entries(flags)) {
    if (key === 'on') {
      if (typeof value !== 'string' || !TARGET.test(value)) throw new OpsError('BAD_ARGUMENTS', `\`--on\` takes a target name such as \`web\`.`);
      target = value;
    } else if (PRESENTATION_FLAGS.has(key)) presentation[key] = value;
    else input[key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = value;
  }
  const parsed = command.args.safeParse(input);
  if (!parsed.success) throw new OpsError('BAD_ARGUMENTS', formatIssues(parsed.error, command));
  return { command, args: parsed.data as Record<string, unknown>, flags: presentation, ...(target ? { target } : {}) };
}
