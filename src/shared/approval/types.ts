import { z } from 'zod';
import { actorSchema } from '../contracts/envelope.ts';

/**
 * One approval request as stored in Redis (src/shared/approval/store.ts). The exact operation lives here,
 * server-side; Slack only ever sees the opaque `id` on the buttons.
 *
 *   pending ──approve (N of M)──▶ approved ──worker start──▶ executing ──▶ executed | failed
 *      │ deny / cancel / expire                │ abort (role revoked,       │ interrupt (its worker
 *      ▼                                       ▼  stale, bad record)        ▼  died mid-run)
 *   denied | cancelled | expired             failed                      failed (interrupted)
 */
export const APPROVAL_STATES = ['pending', 'approved', 'denied', 'cancelled', 'expired', 'executing', 'executed', 'failed'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

/** Request ids are 16 random bytes, base64url: opaque, unguessable, valid BullMQ job ids. */
export const APPROVAL_ID = /^[A-Za-z0-9_-]{22}$/;

export const personSchema = actorSchema.pick({ userId: true, teamId: true });
export type Person = z.infer<typeof personSchema>;

export const voteSchema = personSchema.extend({ at: z.number().int() });
export type Vote = z.infer<typeof voteSchema>;

export const approvalRecordSchema = z.object({
  v: z.literal(1),
  id: z.string().regex(APPROVAL_ID),
  state: z.enum(APPROVAL_STATES),
  command: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/),
  job: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/),
  args: z.record(z.string(), z.unknown()),
  /** The target (`--on`) the request is for; absent on a single-stack setup. In the digest. */
  target: z.string().regex(/^[a-z][a-z0-9-]{0,23}$/).optional(),
  /** sha256 over id, command, job, args, requester, channel and target (src/shared/approval/digest.ts). */
  digest: z.string().regex(/^[a-f0-9]{64}$/),
  requester: actorSchema,
  channel: z.string().regex(/^[CG][A-Z0-9]{2,}$/),
  messageTs: z.string().max(40).optional(),
  summary: z.array(z.string().max(500)).max(60),
  required: z.number().int().min(1).max(10),
  createdAt: z.number().int(),
  expiresAt: z.number().int(),
  approvals: z.array(voteSchema).max(10),
  decidedBy: personSchema.optional(),
  reason: z.string().max(500).optional(),
  approvedAt: z.number().int().optional(),
  /** An approved request must start before this, or it is failed as stale. */
  executeBy: z.number().int().optional(),
  startedAt: z.number().int().optional(),
  finishedAt: z.number().int().optional(),
  /** The job keeps a crash journal: after a crash its recoverer reports and finishes this request. */
  journaled: z.literal(true).optional(),
  /** Ended because the worker running it died (src/shared/approval/interrupted.ts). */
  interrupted: z.literal(true).optional(),
});
export type ApprovalRecord = z.infer<typeof approvalRecordSchema>;

/** The read side, for `/cdb approvals` in Slack, the console and the CLI. */
export interface ApprovalReader {
  /** Pending requests (soonest expiry first) and the most recent others (newest first). */
  overview(recent?: number): Promise<{ pending: ApprovalRecord[]; recent: ApprovalRecord[] }>;
  get(id: string): Promise<ApprovalRecord | undefined>;
}
