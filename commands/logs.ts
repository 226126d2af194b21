import { z } from 'zod';
import { defineCommand } from '../src/shared/registry/define-command.ts';
import { serviceName } from '../src/shared/contracts/status.ts';
import { LOGS_MAX_LIMIT, logFilterSchema, sinceSchema, type LogsResult } from '../src/shared/contracts/logs.ts';
import { type Block, clip, context, esc, section } from '../src/shared/render/blocks.ts';
import { DURATION } from '../src/shared/duration.ts';

const INLINE_MAX_CHARS = 2600;
const INLINE_MAX_LINES = 40;
const PREVIEW_LINES = 12;

const limit = z
  .union([z.number(), z.string().regex(/^\d{1,6}$/, 'a number of lines').transform(Number)])
  .pipe(z.number().int().min(1).max(LOGS_MAX_LIMIT, `at most ${LOGS_MAX_LIMIT} lines`));

// Words after the service are the filter (quotes keep spaces exactly); the bot sends it joined.
const filter = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v.join(' ') : v)).pipe(logFilterSchema);

const VALUE_FORMS: Record<string, RegExp> = { since: DURATION, limit: /^\d{1,6}$/ };

/**
 * The tokenizer reads `--since 15m` as a bare `--since` plus a word `15m` (flags take values only as
 * `--since=15m`). For those, the last filter word of the right form is the value: `logs core error
 * --since 1h --limit 50` means what it says.
 */
function claimFlagValues(input: unknown): unknown {
  if (typeof input !== 'object' || input === null) return input;
  const out: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  const words = Array.isArray(out.filter) ? [...(out.filter as unknown[])] : undefined;
  for (const [flag, form] of Object.entries(VALUE_FORMS)) {
    if (out[flag] !== true || !words) continue;
    let at = words.length - 1;
    while (at >= 0 && !(typeof words[at] === 'string' && form.test(words[at] as string))) at--;
    if (at < 0) continue;
    out[flag] = words[at];
    words.splice(at, 1);
  }
  if (words) out.filter = words.length ? words : undefined;
  return out;
}

function lineText(r: LogsResult, l: LogsResult['lines'][number]): string {
  const time = l.ts ? l.ts.slice(11, 23) : '';
  return [time, r.containers.length > 1 ? l.container : '', l.line].filter(Boolean).join('  ');
}

function code(text: string): string {
  return `\`\`\`${clip(esc(text.replace(/```/g, '`\u200b``')), 2900)}\`\`\``;
}

function summary(r: LogsResult): string {
  const parts = [`${r.lines.length}${r.truncated ? '+' : ''} line${r.lines.length === 1 ? '' : 's'}`, `last ${r.since}`];
  if (r.filter !== undefined) parts.push(`containing “${r.filter.replace(/\n/g, '⏎')}”`);
  parts.push(r.source === 'loki' ? 'from Loki' : 'from Docker');
  return parts.join(' · ');
}

export default defineCommand({
  kind: 'job',
  name: 'logs',
  summary: 'Recent log lines of a service (Loki, or Docker without it), optionally filtered.',
  usage: 'logs <service> [filter] [--since 15m] [--limit 100]',
  help: 'Shows the newest lines of the last `--since` (default 15m, at most 7d), at most `--limit` (default 100, at most 1000). The filter is a plain substring, case-sensitive: `/cdb logs core "connection refused"`. Long output comes as a file in the thread. Secrets in lines are masked.',
  examples: ['logs core', 'logs core error --since 1h', 'logs api "status=500" --limit 300'],
  role: 'viewer',
  positionals: ['service', '...filter'],
  args: z.preprocess(claimFlagValues, z.object({ service: serviceName, filter: filter.optional(), since: sinceSchema.default('15m'), limit: limit.default(100) }).strict()),
  job: 'logs',
  slack(r: LogsResult) {
    const title = `*Logs of ${esc(r.service)}* — ${esc(summary(r))}`;
    const foot: Block[] = [];
    if (r.note) foot.push(context(`:warning: ${esc(r.note)}`));
    if (r.query) foot.push(context(`LogQL: \`${esc(clip(r.query.replace(/`/g, "'"), 2000))}\``));
    if (!r.lines.length) {
      const where = r.containers.length ? `\`${r.containers.map(esc).join('`, `')}\`` : 'the service';
      return { text: `Logs of ${esc(r.service)}: no lines`, blocks: [section(`${title}\nNo lines from ${where} in the last ${esc(r.since)}${r.filter !== undefined ? ' match the filter' : ''}.`), ...foot] };
    }
    const text = r.lines.map((l) => lineText(r, l)).join('\n');
    const more = r.truncated ? ` Only the newest ${r.lines.length} are shown; narrow with a filter or \`--since\`.` : '';
    if (text.length <= INLINE_MAX_CHARS && r.lines.length <= INLINE_MAX_LINES) {
      return { text: `Logs of ${esc(r.service)}: ${esc(summary(r))}`, blocks: [section(`${title}${esc(more)}`), section(code(text)), ...foot] };
    }
    const preview = r.lines.slice(-PREVIEW_LINES).map((l) => lineText(r, l)).join('\n');
    return {
      text: `Logs of ${esc(r.service)}: ${esc(summary(r))} (attached as a file)`,
      blocks: [section(`${title}\nThe newest ${Math.min(PREVIEW_LINES, r.lines.length)} are below; all ${r.lines.length} are in the file in this thread.${esc(more)}`), section(code(preview)), ...foot],
      file: { filename: `${r.service}-logs.txt`, title: esc(`${r.service} logs (${summary(r)})`), content: `${text}\n` },
    };
  },
  text(r: LogsResult) {
    const head = `# ${r.service}: ${summary(r)}${r.note ? `\n# ${r.note}` : ''}${r.query ? `\n# LogQL: ${r.query}` : ''}`;
    return `${head}\n${r.lines.map((l) => `${l.ts}  ${l.container}  ${l.line}`).join('\n')}`;
  },
  exitCode(r: LogsResult) {
    return r.lines.length ? 0 : 1;
  },
});
