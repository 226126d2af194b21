import { z } from 'zod';
import { defineCommand, type AnswerContext, type SlackMessage } from '../src/shared/registry/define-command.ts';
import { type Block, capBlocks, context, esc, header, section } from '../src/shared/render/blocks.ts';
import { approvalMessage, operationText, slackDate, statusLine } from '../src/shared/approval/message.ts';
import { APPROVAL_ID, type ApprovalRecord } from '../src/shared/approval/types.ts';

const args = z.object({ id: z.string().regex(APPROVAL_ID, 'a request id (22 characters, as shown on the request)').optional() }).strict();

const UNAVAILABLE = 'Approval requests live in Redis, which this front end does not reach. Use `/cdb approvals` in Slack or `cdb approvals` on the bot host.';

function line(r: ApprovalRecord): string {
  const when = r.state === 'pending' ? `expires ${slackDate(r.expiresAt)}` : `requested ${slackDate(r.createdAt)}`;
  return `\`${r.id}\` · \`${esc(operationText(r).slice(0, 200))}\` · by <@${r.requester.userId}> · *${r.state}* · ${r.approvals.length}/${r.required} approvals · ${when}`;
}

function plainLine(r: ApprovalRecord): string {
  const when = r.state === 'pending' ? `expires ${new Date(r.expiresAt).toISOString()}` : `requested ${new Date(r.createdAt).toISOString()}`;
  const approvers = r.approvals.map((a) => a.userId).join(',') || '-';
  return `${r.id}  ${r.state.padEnd(9)}  ${operationText(r)}  by ${r.requester.userId}  approvals ${r.approvals.length}/${r.required} (${approvers})  ${when}${r.reason ? `  reason: ${r.reason}` : ''}`;
}

async function load(id: string | undefined, ctx: AnswerContext): Promise<{ one?: ApprovalRecord; pending: ApprovalRecord[]; recent: ApprovalRecord[] } | 'unavailable' | 'missing'> {
  if (!ctx.approvals) return 'unavailable';
  if (id) {
    const one = await ctx.approvals.get(id);
    return one ? { one, pending: [], recent: [] } : 'missing';
  }
  return ctx.approvals.overview(15);
}

export default defineCommand({
  kind: 'answer',
  name: 'approvals',
  summary: 'Pending and recent two-person approval requests; `approvals <id>` for one.',
  usage: 'approvals [id]',
  help: 'Risky commands (rollback, restore, rotate, destructive doctor fixes, deep clean) run only after a second person with the approver role approves the exact request in Slack. This lists the requests; approving happens on the request message.',
  examples: ['approvals'],
  role: 'viewer',
  positionals: ['id'],
  args,
  async answer({ id }, ctx): Promise<SlackMessage> {
    const found = await load(id, ctx);
    if (found === 'unavailable') return { text: UNAVAILABLE };
    if (found === 'missing') return { text: `There is no approval request \`${esc(id ?? '')}\`.` };
    if (found.one) {
      const detail = approvalMessage({ ...found.one });
      // The listing is read-only: the buttons live on the request message only.
      return { text: detail.text, blocks: (detail.blocks ?? []).filter((b) => b.type !== 'actions' && b.type !== 'input') };
    }
    const blocks: Block[] = [header('Approval requests')];
    blocks.push(section(found.pending.length ? `*Pending*\n${found.pending.map(line).join('\n')}` : '*Pending*\nNone.'));
    if (found.recent.length) blocks.push(section(`*Recent*\n${found.recent.map((r) => `${line(r)}\n      ${statusLine(r)}`).join('\n')}`));
    blocks.push(context('`/cdb approvals <id>` shows one request. Approve or deny on the request message itself.'));
    return { text: `Approval requests: ${found.pending.length} pending, ${found.recent.length} recent`, blocks: capBlocks(blocks, (n) => `…and ${n} more.`) };
  },
  async text({ id }, ctx): Promise<string> {
    const found = await load(id, ctx);
    if (found === 'unavailable') return UNAVAILABLE.replace(/`/g, '');
    if (found === 'missing') return `There is no approval request ${id ?? ''}.`;
    if (found.one) return `${plainLine(found.one)}\nargs ${JSON.stringify(found.one.args)}\nwhat will change:\n${found.one.summary.map((l) => `  - ${l}`).join('\n') || '  (no summary)'}`;
    const pending = found.pending.length ? found.pending.map(plainLine).join('\n') : '(none)';
    const recent = found.recent.length ? found.recent.map(plainLine).join('\n') : '(none)';
    return `Pending approval requests:\n${pending}\n\nRecent:\n${recent}\n\nApproval happens in Slack, on the request message.`;
  },
});
