import { OpsError } from '../errors.ts';
import { esc } from '../render/blocks.ts';

export interface Tokens {
  readonly words: string[];
  readonly flags: Record<string, string | true>;
}

const MAX_INPUT = 2000;
const FLAG = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/s;
/** Options that always take a value, so `--on web` reads like `--on=web` (the target of any command). */
const VALUE_FLAGS = new Set(['on']);

/**
 * Splits `status web --since=15m "two words"` the way a user expects from a shell,
 * without ever handing the text to one: quotes group; options are `--flag` or `--flag=value`
 * (a word after a bare `--flag` stays a word, so a positional is never swallowed by an option).
 */
export function tokenize(input: string): Tokens {
  if (input.length > MAX_INPUT) throw new OpsError('BAD_ARGUMENTS', `That command is too long (${input.length} characters, at most ${MAX_INPUT}).`);
  const raw = /["'\u2018\u2019\u201c\u201d]/.test(input) ? splitQuoted(input) : input.split(/\s+/).filter(Boolean);

  const words: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < raw.length; i++) {
    const token = raw[i] as string;
    const match = FLAG.exec(token);
    if (!match) {
      if (token.startsWith('-') && token.length > 1 && !/^-\d/.test(token)) {
        throw new OpsError('BAD_ARGUMENTS', `\`${esc(token.slice(0, 40))}\` is not a valid option. Options look like \`--name\` or \`--name=value\`.`);
      }
      words.push(token);
      continue;
    }
    const name = match[1] as string;
    if (name in flags) throw new OpsError('BAD_ARGUMENTS', `Option --${name} is given twice.`);
    let value: string | true = match[2] ?? true;
    if (value === true && VALUE_FLAGS.has(name)) {
      const next = raw[i + 1];
      if (next === undefined || next.startsWith('--')) throw new OpsError('BAD_ARGUMENTS', `Option --${name} needs a value, e.g. \`--${name} web\`.`);
      value = next;
      i++;
    }
    flags[name] = value;
  }
  return { words, flags };
}

/** Words of a text with quotes: a quoted run is one word (or part of one), quotes removed. */
function splitQuoted(input: string): string[] {
  const raw: string[] = [];
  let current = '';
  let quote: '"' | "'" | null = null;
  let inToken = false;
  // Slack turns typed quotes into typographic ones on some clients.
  const text = input.replace(/[\u201c\u201d]/g, '"').replace(/[\u2018\u2019]/g, "'");
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inToken = true;
    } else if (/\s/.test(ch)) {
      if (inToken) raw.push(current);
      current = '';
      inToken = false;
    } else {
      current += ch;
      inToken = true;
    }
  }
  if (quote) throw new OpsError('BAD_ARGUMENTS', `A ${quote} quote is not closed.`);
  if (inToken) raw.push(current);
  return raw;
}
