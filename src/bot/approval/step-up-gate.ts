import type { ErrorCode } from '../../shared/errors.ts';
import type { ApprovalRecord } from '../../shared/approval/types.ts';
import type { Click } from './payload.ts';

/** Step-up for the riskiest approvals (src/bot/step-up.ts): asks for a code instead of approving. */
export interface StepUpGate {
  requires(command: string): boolean;
  /** Opens the code dialog; a refusal (not enrolled, locked out) is returned for the caller to tell. */
  challenge(record: ApprovalRecord, click: Click, triggerId: string | undefined): Promise<{ code: ErrorCode; text: string } | undefined>;
}
