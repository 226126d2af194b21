import { z } from 'zod';
import { defineCommand, type AnswerContext, type SlackMessage } from '../src/shared/registry/define-command.ts';
import { capBlocks, context, esc, header, section, type Block } from '../src/shared/render/blocks.ts';
import type { AuditRow } from '../src/shared/audit/audit.ts';
import { DURATION, durationSchema, parseDuration } from '../src/shared/duration.ts';

const MENTION = /^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$/;
const USER_ID = /^[UW][A-Z0-9]{2,}$/;
const COMMAND = /^[a-z][a-z0-9-]{0,30}$/;

const since = durationSchema('a duration such as 30m, 6h or 2d');

/** `--since 6h` arrives as a bare flag and a word (the tokenizer keeps words words): claim it. */
function claimSince(input: unknown): unknown {
  if (typeof input !== 'object' || input === null) return input;
  const out = { ...(input as Record<string, unknown>) };
  if (out.since === true && typeof out.extra === 'string' && DURATION.test(out.extra)) {
    out.since = out.extra;
    delete out.extra;
  } else if (out.since === true && typeof out.filter === 'string' && DURATION.test(out.filter)) {
    out.since = out.filter;
    delete out.filter;
  }
  return out;
}

const args = z.preprocess(
  claimSince,
  z
    .object({
      filter: z
        .string()
        .refine((v) => MENTION.test(v) || USER_ID.test(v) || COMMAND.test(v), 'a user (@name or user ID) or a command name')
        .optional(),
      since: since.optional(),
    })
    .strict(),
);
type Args = z.output<typeof args>;

const UNAVAILABLE = 'The audit stream lives in Redis, which this front end does not reach. Use `/cdb audit` in Slack or `cdb audit` on the bot host.';

function query(a: Args): { user?: string; command?: string; sinceMs?: number; limit: number } {
  const f = a.filter;
  const user = f ? (MENTION.exec(f)?.[1] ?? (USER_ID.test(f) ? f : undefined)) : undefined;
  const command = f && !user ? f : undefined;
  const back = a.since ? parseDuration(a.since) : undefined;
  const sinceMs = back !== undefined ? Date.now() - back : undefined;
  return { user, command, sinceMs, limit: 30 };
}

async function load(a: Args, ctx: AnswerContext): Promise<AuditRow[] | undefined> {
  return ctx.audit ? ctx.audit.query(query(a)) : undefined;
}

function what(r: AuditRow): string {
  const extra = [r.code, r.approval ? `approval ${r.approval.state}` : undefined].filter(Boolean).join(', ');
  return `${r.outcome}${extra ? ` (${extra})` : ''}`;
}

function describeFilter(a: Args): string {
  const q = query(a);
  // The filter is what the user typed: named as an id, never as a live mention.
  return [q.user ? `by user \`${q.user}\`` : q.command ? `of \`${q.command}\`` : '', a.since ? `in the last ${a.since}` : ''].filter(Boolean).join(' ');
}

export default defineCommand({
  kind: 'answer',
  name: 'audit',
  summary: 'Recent audit entries, by user or command (approvers).',
  usage: 'audit [user|command] [--since 6h]',
  help: 'Every command, refusal and approval step is an entry in a hash-chained audit stream. This shows the newest 30, optionally only one user\'s (`@name`) or one command\'s, optionally only since a time. `cdb audit verify` on the bot host checks the chain.',
  examples: ['audit', 'audit rollback --since 1d', 'audit @alice'],
  role: 'approver',
  positionals: ['filter', 'extra'],
  args,
  async answer(a, ctx): Promise<SlackMessage> {
    const rows = await load(a, ctx);
    if (!rows) return { text: UNAVAILABLE };
    const scope = describeFilter(a);
    if (!rows.length) return { text: `No audit entries${scope ? ` ${scope}` : ''}.` };
    const lines = rows.map((r) => {
      const t = Math.floor(Date.parse(r.at) / 1000);
      const when = Number.isFinite(t) ? `<!date^${t}^{date_short} {time_secs}|${esc(r.at)}>` : esc(String(r.at));
      return `${when} · <@${esc(r.actor?.userId ?? '?')}> · \`${esc(r.command)}\` · ${esc(what(r))}${r.seq ? ` · #${r.seq}` : ''}`;
    });
    const blocks: Block[] = [header('Audit trail')];
    // A section holds 3000 characters: ten lines each.
    for (let i = 0; i < lines.length; i += 10) blocks.push(section(lines.slice(i, i + 10).join('\n')));
    blocks.push(context(`Newest first${scope ? `, ${scope}` : ''}. \`cdb audit verify\` on the bot host checks that nothing was changed, removed or inserted.`));
    return { text: `Audit: ${rows.length} entries${scope ? ` ${scope}` : ''}`, blocks: capBlocks(blocks, (n) => `…and ${n} more.`) };
  },
  async text(a, ctx): Promise<string> {
    const rows = await load(a, ctx);
    if (!rows) return UNAVAILABLE.replace(/`/g, '');
    if (!rows.length) return 'No audit entries.';
    return rows.map((r) => `${r.at}  #${r.seq ?? '-'}  ${r.actor?.userId ?? '?'}  ${r.command}  ${what(r)}  ${r.requestId}`).join('\n');
  },
});
