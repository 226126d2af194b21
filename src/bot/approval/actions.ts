import type { ErrorCode } from '../../shared/errors.ts';
import { hasRole, highestRole } from '../../shared/auth/authorize.ts';
import type { Actor } from '../../shared/contracts/envelope.ts';
import { requiredRole } from '../../shared/registry/define-command.ts';
import { parseClick, type Click } from './payload.ts';
import type { ApprovalService } from './service.ts';
import type { Refusal } from '../../shared/approval/state-machine.ts';
import type { ApprovalRecord } from '../../shared/approval/types.ts';
import { slackDate, statusLine } from '../../shared/approval/message.ts';

const ANON: Actor = { userId: 'local:unknown', teamId: 'local' };

/** What a late or refused click is told; `code` is what the audit stream records. */
function refusalText(refusal: Refusal, r: ApprovalRecord, click: Click): { code: ErrorCode; text: string } {
  switch (refusal) {
    case 'self':
      return click.kind === 'approve'
        ? { code: 'APPROVAL_SELF', text: 'You asked for this, so you cannot approve it: a second person with the approver role must.' }
        : { code: 'APPROVAL_SELF', text: 'You asked for this; use *Cancel* to withdraw it.' };
    case 'duplicate':
      return { code: 'APPROVAL_DUPLICATE', text: `You already approved this; it needs ${r.required - r.approvals.length} more approver(s), and each person counts once.` };
    case 'not-requester':
      return { code: 'FORBIDDEN', text: `Only <@${r.requester.userId}>, who asked, can cancel this request. Approvers can *Deny* it.` };
    case 'tampered':
      return { code: 'APPROVAL_TAMPERED', text: 'That click does not match this approval request (other message, channel or workspace). Nothing was done.' };
    case 'expired':
      return { code: 'APPROVAL_CLOSED', text: `Too late: this request expired ${slackDate(r.expiresAt)}. Nothing was run; ask for it again if it is still needed.` };
    default:
      return { code: 'APPROVAL_CLOSED', text: `This request is no longer open. ${statusLine(r)}` };
  }
}

/**
 * One Approve / Deny / Cancel click, already acknowledged to Slack. Order: a well-formed payload from
 * our app, an existing request on this very message, still open, clicked by a real human of the same
 * workspace with the right role; then the state machine decides atomically in Redis.
 */
export async function handleApprovalAction(svc: ApprovalService, body: unknown): Promise<void> {
  const { log } = svc.deps;
  const parsed = parseClick(body);
  if (!parsed.ok) {
    log.warn({ why: parsed.why, user: parsed.userId }, 'approval click refused');
    await svc.deps.audit.record({ requestId: 'unknown', command: 'approval', args: {}, actor: parsed.userId ? { userId: parsed.userId, teamId: 'unknown' } : ANON, via: 'slack', outcome: 'rejected', code: 'APPROVAL_TAMPERED' });
    if (parsed.userId && parsed.channel) await svc.ephemeral(parsed.channel, parsed.userId, ':no_entry: That button does not belong to a valid approval request. Nothing was done.');
    return;
  }
  const triggerId = (body as { trigger_id?: unknown }).trigger_id;
  await decideClick(svc, parsed.click, { triggerId: typeof triggerId === 'string' ? triggerId : undefined });
}

export interface DecideOptions {
  /** Opens the step-up code dialog (Slack's trigger_id of the click). */
  readonly triggerId?: string;
  /** Set by the step-up dialog once the approver's one-time code checked out. */
  readonly stepUpVerified?: boolean;
}

/** Decides one well-formed click (or a step-up dialog's confirmed approve) against the stored request. */
export async function decideClick(svc: ApprovalService, click: Click, opts: DecideOptions = {}): Promise<void> {
  const { config, store, log, groups, registry } = svc.deps;
  const actor: Actor = { userId: click.by.userId, teamId: click.by.teamId };
  const refuse = async (code: ErrorCode, text: string, record?: ApprovalRecord): Promise<void> => {
    log.info({ approvalId: click.id, user: actor.userId, code }, 'approval click refused');
    await svc.deps.audit.record({
      requestId: click.id, command: record?.command ?? 'approval', args: record?.args ?? {}, actor, via: 'slack', outcome: 'rejected', code,
      approval: record ? { id: record.id, state: record.state, reason: `${click.kind} refused` } : undefined,
    });
    await svc.ephemeral(click.channel, actor.userId, `:no_entry: ${text}`);
  };

  if (config.slack.appId && click.appId !== config.slack.appId) return refuse('APPROVAL_TAMPERED', 'That click came from another Slack app. Nothing was done.');
  const record = await store.get(click.id);
  if (!record) return refuse('APPROVAL_NOT_FOUND', `There is no approval request \`${click.id}\`. Nothing was done.`);
  if (record.channel !== click.channel || record.messageTs !== click.messageTs) {
    return refuse('APPROVAL_TAMPERED', 'That click does not match this approval request (other message or channel). Nothing was done.', record);
  }
  if (record.state !== 'pending') {
    await svc.heal(record); // in case an earlier update was lost: no stale buttons stay behind
    return refuse('APPROVAL_CLOSED', `This request is no longer open. ${statusLine(record)}`, record);
  }
  if (click.by.teamId !== record.requester.teamId) return refuse('UNKNOWN_ACTOR', 'Users of another workspace cannot act on this request.', record);
  const notHuman = await svc.verifyHuman(click.by);
  if (notHuman) return refuse('UNKNOWN_ACTOR', `You cannot act on approval requests: ${notHuman}.`, record);

  if (click.kind !== 'cancel') {
    if (click.by.userId === record.requester.userId) return refuse('APPROVAL_SELF', refusalText('self', record, click).text, record);
    const role = await highestRole(actor, config, groups);
    if (!hasRole(role, 'approver')) {
      return refuse('FORBIDDEN', `Only people with the *approver* role can ${click.kind} requests, and you have ${role === 'everyone' ? 'no role' : `*${role}*`}.`, record);
    }
  }
  if (click.kind === 'approve') {
    // The requester must still be allowed to run what they asked for.
    const command = registry.get(record.command);
    if (!command || command.kind !== 'job') return refuse('APPROVAL_TAMPERED', `\`${record.command}\` is not a command this bot knows any more.`, record);
    const needed = requiredRole(command, record.args);
    if (!hasRole(await highestRole(record.requester, config, groups), needed)) {
      return refuse('APPROVAL_REVOKED', `<@${record.requester.userId}> no longer holds the *${needed}* role, so this cannot be approved.`, record);
    }
    // Riskiest commands: the approver confirms with a one-time code; the dialog comes back here verified.
    const stepUp = svc.deps.stepUp;
    if (stepUp?.requires(record.command) && !opts.stepUpVerified) {
      const refusal = await stepUp.challenge(record, click, opts.triggerId);
      if (refusal) return refuse(refusal.code, refusal.text, record);
      log.info({ approvalId: click.id, user: actor.userId }, 'step-up code requested');
      return;
    }
  }

  const where = { by: click.by, channel: click.channel, messageTs: click.messageTs };
  const event = click.kind === 'approve' ? { type: 'approve' as const, ...where } : { type: click.kind, ...where, reason: click.reason };
  const res = await store.apply(click.id, event);
  if (!res.found) return refuse('APPROVAL_NOT_FOUND', `There is no approval request \`${click.id}\`. Nothing was done.`);
  const next = res.record;
  if (res.next) {
    // The buttons go the moment a decision is taken: update the message before anything else.
    await svc.refresh(next);
    const outcome = res.outcome as 'voted' | 'approved' | 'denied' | 'cancelled' | 'expired';
    await svc.record(next, outcome, actor);
    if (outcome === 'approved') await svc.enqueue(next);
    if (outcome === 'voted') await svc.ephemeral(click.channel, actor.userId, `:ballot_box_with_check: Counted. ${next.required - next.approvals.length} more approval(s) needed.`);
  }
  if (res.refusal) {
    const { code, text } = refusalText(res.refusal, next, click);
    await refuse(code, text, next);
  }
}
