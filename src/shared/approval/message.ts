import type { SlackMessage } from '../registry/define-command.ts';
import { type Block, clip, context, esc, fields, header, section } from '../render/blocks.ts';
import { canonicalJson } from './digest.ts';
import type { ApprovalRecord } from './types.ts';

export const ACTION_APPROVE = 'cdb_approval_approve';
export const ACTION_DENY = 'cdb_approval_deny';
export const ACTION_CANCEL = 'cdb_approval_cancel';
export const ACTION_IDS = [ACTION_APPROVE, ACTION_DENY, ACTION_CANCEL] as const;
export const REASON_BLOCK = 'cdb_approval_reason';
export const REASON_ACTION = 'reason';

/** Slack renders this in each reader's time zone; the ISO text is the fallback. */
export function slackDate(ms: number): string {
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${new Date(ms).toISOString()}>`;
}

export function operationText(r: Pick<ApprovalRecord, 'command' | 'args'>): string {
  const args = Object.keys(r.args).length ? ` ${canonicalJson(r.args)}` : '';
  return `/cdb ${r.command}${args}`;
}

function who(userId: string | undefined): string {
  return userId ? `<@${userId}>` : 'someone';
}

function approvers(r: ApprovalRecord): string {
  return r.approvals.length ? r.approvals.map((a) => who(a.userId)).join(', ') : 'none yet';
}

/** One line saying where the request stands; the same words in chat, the CLI and `/cdb approvals`. */
export function statusLine(r: ApprovalRecord): string {
  const reason = r.reason ? `: ${esc(clip(r.reason, 300))}` : '';
  switch (r.state) {
    case 'pending':
      return `:hourglass_flowing_sand: Waiting for ${r.required - r.approvals.length} more approval(s) from the approver role (not the requester). Approved so far: ${approvers(r)}. Expires ${slackDate(r.expiresAt)}.`;
    case 'approved':
      return `:white_check_mark: Approved by ${approvers(r)}, running… Progress and results follow in this thread.`;
    case 'executing':
      return `:white_check_mark: Approved by ${approvers(r)}, running… Progress and results follow in this thread.`;
    case 'executed':
      return `:white_check_mark: Approved by ${approvers(r)} · finished. The result is in this thread.`;
    case 'failed':
      return `:x: ${r.approvals.length >= r.required ? `Approved by ${approvers(r)}, but failed` : 'Failed'}${reason}.`;
    case 'denied':
      return `:no_entry: Denied by ${who(r.decidedBy?.userId)}${reason || '.'}`;
    case 'cancelled':
      return `:heavy_multiplication_x: Cancelled by ${who(r.decidedBy?.userId)}${reason || '.'}`;
    case 'expired':
      return `:hourglass: Expired ${slackDate(r.expiresAt)}: nobody approved in time. Nothing was changed.`;
  }
}

function buttons(r: ApprovalRecord): Block[] {
  const op = clip(operationText(r), 250);
  return [
    {
      type: 'input',
      block_id: REASON_BLOCK,
      optional: true,
      label: { type: 'plain_text', text: 'Reason (optional, shown with Deny or Cancel)' },
      element: { type: 'plain_text_input', action_id: REASON_ACTION, max_length: 200 },
    },
    {
      type: 'actions',
      block_id: 'cdb_approval_buttons',
      // The buttons carry the request id only: the operation itself is read back from Redis.
      elements: [
        {
          type: 'button', action_id: ACTION_APPROVE, value: r.id, style: 'primary', text: { type: 'plain_text', text: 'Approve' },
          confirm: {
            title: { type: 'plain_text', text: 'Approve and run?' },
            text: { type: 'plain_text', text: `This runs ${op} now.` },
            confirm: { type: 'plain_text', text: 'Approve' },
            deny: { type: 'plain_text', text: 'Back' },
          },
        },
        { type: 'button', action_id: ACTION_DENY, value: r.id, style: 'danger', text: { type: 'plain_text', text: 'Deny' } },
        { type: 'button', action_id: ACTION_CANCEL, value: r.id, text: { type: 'plain_text', text: 'Cancel (requester)' } },
      ],
    },
  ];
}

/** The channel message for a request: what, by whom, what changes, until when; buttons only while pending. */
export function approvalMessage(r: ApprovalRecord): SlackMessage {
  const op = operationText(r);
  const summary = r.summary.length ? r.summary.map((l) => `• ${esc(l)}`).join('\n') : `_The command gives no summary. See \`/cdb help ${r.command}\`._`;
  const blocks: Block[] = [
    header(r.state === 'pending' ? `Approval needed: /cdb ${r.command}` : `Approval request: /cdb ${r.command}`),
    section(`${who(r.requester.userId)} asks to run \`${esc(clip(op, 2500))}\``),
    fields([
      `*Requested by*\n${who(r.requester.userId)}`,
      `*Command*\n\`${r.command}\``,
      `*Arguments*\n\`${esc(clip(canonicalJson(r.args), 1900))}\``,
      `*Approvals*\n${r.approvals.length} of ${r.required}`,
      `*Expires*\n${slackDate(r.expiresAt)}`,
    ]),
    section(`*What will change*\n${summary}`),
    section(statusLine(r)),
  ];
  if (r.state === 'pending') blocks.push(...buttons(r));
  blocks.push(context(`request \`${r.id}\` · sha256 \`${r.digest.slice(0, 16)}\``));
  return { text: `Approval ${r.state === 'pending' ? 'needed' : r.state}: ${op} (requested by ${who(r.requester.userId)})`, blocks };
}
