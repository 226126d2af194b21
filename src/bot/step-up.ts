import type { App } from '@slack/bolt';
import type { InputBlock } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../shared/config/schema.ts';
import type { ErrorCode } from '../shared/errors.ts';
import type { AuditLog } from '../shared/audit/audit.ts';
import type { Actor } from '../shared/contracts/envelope.ts';
import type { StepUpEnroller } from '../shared/registry/define-command.ts';
import { esc } from '../shared/render/blocks.ts';
import { decideClick } from './approval/actions.ts';
import type { StepUpGate } from './approval/step-up-gate.ts';
import type { Click } from './approval/payload.ts';
import type { ApprovalService } from './approval/service.ts';
import { operationText } from '../shared/approval/message.ts';
import { APPROVAL_ID, type ApprovalRecord } from '../shared/approval/types.ts';
import type { CodeCheck, TotpVault } from './totp-vault.ts';
import { newRequestId } from './dispatch.ts';
import { uploadEnrollmentQr } from './enrollment-qr.ts';

export const STEPUP_CONFIRM_ACTION = 'cdb_stepup_confirm';
export const STEPUP_ENROLL_VIEW = 'cdb_stepup_enroll';
export const STEPUP_APPROVE_VIEW = 'cdb_stepup_approve';
export const CODE_BLOCK = 'cdb_stepup_code';
export const CODE_ACTION = 'code';

const userId = z.string().regex(/^[UW][A-Z0-9]{2,}$/);
/** What the approve dialog carries from the click to the submission (Slack keeps it server-side). */
const clickMeta = z.object({
  id: z.string().regex(APPROVAL_ID),
  channel: z.string().max(40),
  messageTs: z.string().max(40),
  appId: z.string().max(40).optional(),
  by: z.object({ userId, teamId: z.string().max(40) }),
}).strict();

export interface StepUpDeps {
  readonly config: Config;
  readonly vault: TotpVault;
  readonly client: WebClient;
  readonly audit: AuditLog;
  readonly log: Logger;
}

function codeInput(label: string): InputBlock {
  return {
    type: 'input', block_id: CODE_BLOCK, label: { type: 'plain_text', text: label },
    element: { type: 'plain_text_input', action_id: CODE_ACTION, min_length: 6, max_length: 8, placeholder: { type: 'plain_text', text: '6 digits' } },
  };
}

function seconds(ms: number): string {
  const s = Math.ceil(ms / 1000);
  return s >= 120 ? `${Math.ceil(s / 60)} minutes` : `${s} s`;
}

/** The words for a refused code, and the audit code it is recorded under. */
export function codeRefusal(r: Exclude<CodeCheck, { ok: true }>): { code: ErrorCode; text: string } {
  switch (r.why) {
    case 'not-enrolled':
      return { code: 'STEPUP_NOT_ENROLLED', text: 'You are not enrolled for one-time codes. Run `/cdb enroll` and follow the direct message.' };
    case 'locked':
      return { code: 'STEPUP_LOCKED', text: `Too many wrong codes: one-time codes are locked for you for ${seconds(r.retryAfterMs)}.` };
    case 'malformed':
      return { code: 'STEPUP_BAD_CODE', text: 'Enter the 6 digits your authenticator app shows.' };
    default: {
      const lead = r.why === 'used' ? 'That code was already used once; wait for the next one.' : 'That code is not right.';
      const tail = r.lockedNow ? ' You are now locked out of one-time codes for a while.' : ` ${r.max - r.failures} more wrong code(s) before a lockout.`;
      return { code: r.why === 'used' ? 'STEPUP_CODE_USED' : 'STEPUP_BAD_CODE', text: `${lead}${tail}` };
    }
  }
}

/**
 * Step-up for the riskiest approvals: enrollment by DM (the otpauth URI shown once, in a message
 * deleted as soon as the first code confirms it) and a code dialog between Approve and the approval.
 */
export class StepUp implements StepUpGate, StepUpEnroller {
  constructor(private readonly deps: StepUpDeps) {}

  requires(command: string): boolean {
    return this.deps.config.security.stepUp.commands.includes(command);
  }

  async enroll(actor: Actor): Promise<string> {
    const { vault, client, log } = this.deps;
    const begun = await vault.begin(actor.userId);
    if (begun === 'already-enrolled') {
      return 'You are already enrolled for one-time codes. A lost phone is reset by an operator on the bot host (`cdb stepup reset <your user ID>`), never from chat, so that a stolen Slack session cannot enroll a new phone.';
    }
    const minutes = this.deps.config.security.stepUp.enrollMinutes;
    const text = `*One-time codes for approvals.* Add this to your authenticator app: scan the QR code below, or open the link (some apps want the secret part typed in):\n\`${begun.uri}\`\nThen press *Confirm* and enter the code it shows. This message is deleted when you confirm; the enrollment lapses in ${minutes} minutes otherwise.`;
    try {
      const posted = await client.chat.postMessage({
        channel: actor.userId, text, unfurl_links: false,
        blocks: [
          { type: 'section', text: { type: 'mrkdwn', text } },
          { type: 'actions', elements: [{ type: 'button', action_id: STEPUP_CONFIRM_ACTION, text: { type: 'plain_text', text: 'Confirm' }, style: 'primary', value: 'confirm' }] },
        ],
      });
      if (posted.channel && posted.ts) {
        // The same link as a QR code, in the same DM, deleted with it on confirmation.
        const fileId = await uploadEnrollmentQr(client, posted.channel, begun.uri, log);
        await vault.noteDm(actor.userId, { channel: posted.channel, ts: posted.ts, ...(fileId ? { fileId } : {}) });
      }
    } catch (err) {
      log.warn({ err, user: actor.userId }, 'enrollment DM not sent');
      return 'I could not send you a direct message. Open the app\'s Messages tab once and try `/cdb enroll` again.';
    }
    return ':iphone: I sent you a direct message with your enrollment link. It is shown once: add it to your authenticator app, then confirm with a code.';
  }

  async challenge(record: ApprovalRecord, click: Click, triggerId: string | undefined): Promise<{ code: ErrorCode; text: string } | undefined> {
    const { vault, client, log } = this.deps;
    const user = click.by.userId;
    if ((await vault.state(user)) !== 'active') {
      return { code: 'STEPUP_NOT_ENROLLED', text: `Approving \`${record.command}\` needs a one-time code from an authenticator app, and you are not enrolled. Run \`/cdb enroll\`, follow the direct message, then click *Approve* again.` };
    }
    const locked = await vault.lockedFor(user);
    if (locked > 0) return codeRefusal({ ok: false, why: 'locked', retryAfterMs: locked });
    const meta = { id: click.id, channel: click.channel, messageTs: click.messageTs, appId: click.appId, by: click.by };
    try {
      if (!triggerId) throw new Error('no trigger_id');
      await client.views.open({
        trigger_id: triggerId,
        view: {
          type: 'modal', callback_id: STEPUP_APPROVE_VIEW, private_metadata: JSON.stringify(meta),
          title: { type: 'plain_text', text: 'Confirm approval' }, submit: { type: 'plain_text', text: 'Approve' }, close: { type: 'plain_text', text: 'Cancel' },
          blocks: [
            { type: 'section', text: { type: 'mrkdwn', text: `Approving \`${esc(operationText(record).slice(0, 500))}\` (request \`${record.id}\`) needs the code from your authenticator app.` } },
            codeInput('One-time code'),
          ],
        },
      });
    } catch (err) {
      log.warn({ err: { message: err instanceof Error ? err.message : String(err) }, approvalId: record.id }, 'step-up dialog not opened');
      return { code: 'STEPUP_REQUIRED', text: 'This approval needs a one-time code, and the dialog for it could not be opened. Click *Approve* again.' };
    }
    return undefined;
  }

  private async audit(actor: Actor, command: string, code: ErrorCode | undefined, requestId = newRequestId()): Promise<void> {
    await this.deps.audit.record({ requestId, command, args: {}, actor, via: 'slack', outcome: code ? 'rejected' : 'succeeded', code });
  }

  register(app: App, approvals: ApprovalService): void {
    const { vault, client, log } = this.deps;
    const codeOf = (view: { state?: { values?: Record<string, Record<string, { value?: string | null }>> } }): string =>
      String(view.state?.values?.[CODE_BLOCK]?.[CODE_ACTION]?.value ?? '');

    app.action(STEPUP_CONFIRM_ACTION, async ({ ack, body, client: c }) => {
      await ack();
      const triggerId = 'trigger_id' in body ? body.trigger_id : undefined;
      if (!triggerId) return;
      await c.views.open({
        trigger_id: triggerId,
        view: { type: 'modal', callback_id: STEPUP_ENROLL_VIEW, title: { type: 'plain_text', text: 'Confirm enrollment' }, submit: { type: 'plain_text', text: 'Confirm' },
          blocks: [codeInput('Code from your authenticator app')] },
      }).catch((err: unknown) => log.warn({ err }, 'enrollment dialog not opened'));
    });

    app.view(STEPUP_ENROLL_VIEW, async ({ ack, body, view }) => {
      const actor: Actor = { userId: body.user.id, teamId: body.user.team_id ?? body.team?.id ?? 'unknown' };
      const r = await vault.check(actor.userId, codeOf(view), 'pending');
      if (!r.ok) {
        const { code, text } = codeRefusal(r);
        await ack({ response_action: 'errors', errors: { [CODE_BLOCK]: text } });
        if (r.why !== 'malformed') await this.audit(actor, 'enroll', code);
        return;
      }
      await ack();
      if (r.dm) await client.chat.delete({ channel: r.dm.channel, ts: r.dm.ts }).catch((err: unknown) => log.warn({ err }, 'enrollment DM not deleted'));
      if (r.dm?.fileId) await client.files.delete({ file: r.dm.fileId }).catch((err: unknown) => log.warn({ err }, 'enrollment QR code not deleted'));
      await client.chat.postMessage({ channel: actor.userId, text: ':white_check_mark: Enrolled. Approving a command that needs it will now ask for a code from your app.' }).catch(() => undefined);
      await this.audit(actor, 'enroll', undefined);
    });

    app.view(STEPUP_APPROVE_VIEW, async ({ ack, body, view }) => {
      let meta: z.infer<typeof clickMeta>;
      try {
        meta = clickMeta.parse(JSON.parse(view.private_metadata || 'null'));
      } catch {
        await ack({ response_action: 'errors', errors: { [CODE_BLOCK]: 'This dialog does not belong to an approval request. Nothing was done.' } });
        return;
      }
      const actor: Actor = { userId: body.user.id, teamId: body.user.team_id ?? body.team?.id ?? meta.by.teamId };
      if (actor.userId !== meta.by.userId) {
        await ack({ response_action: 'errors', errors: { [CODE_BLOCK]: 'Only the approver who clicked can enter the code. Nothing was done.' } });
        await this.audit(actor, 'approval', 'APPROVAL_TAMPERED', meta.id);
        return;
      }
      const r = await vault.check(actor.userId, codeOf(view), 'active');
      if (!r.ok) {
        const { code, text } = codeRefusal(r);
        await ack({ response_action: 'errors', errors: { [CODE_BLOCK]: text } });
        // Not six digits is a slip of the finger, told but neither counted nor audited.
        if (r.why !== 'malformed') await this.audit(actor, 'approval', code, meta.id);
        return;
      }
      await ack();
      await decideClick(approvals, { kind: 'approve', ...meta, appId: meta.appId, by: { userId: actor.userId, teamId: meta.by.teamId } }, { stepUpVerified: true })
        .catch((err: unknown) => log.error({ err }, 'approval after step-up failed'));
    });
  }
}
