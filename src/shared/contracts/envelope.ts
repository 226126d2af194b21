import { z } from 'zod';

/**
 * What crosses Redis between bot and worker. Job data is stored in clear text,
 * so it holds identifiers and validated arguments only, never a token or password.
 */
export const actorSchema = z.object({
  userId: z.string().regex(/^[UW][A-Z0-9]{2,}$|^local:[a-z0-9_-]+$/),
  teamId: z.string().regex(/^[TE][A-Z0-9]{2,}$|^local$/),
  name: z.string().max(80).optional(),
});
export type Actor = z.infer<typeof actorSchema>;

export const originSchema = z.object({
  /** `plan`: a read-only job run for an approval request; its result goes back to the bot only. */
  kind: z.enum(['slack', 'console', 'cli', 'schedule', 'plan']),
  channel: z.string().max(40).optional(),
  threadTs: z.string().max(40).optional(),
});
export type Origin = z.infer<typeof originSchema>;

/**
 * Set on jobs that ran through two-person approval. The worker does not trust it: it re-reads the
 * approval record (src/shared/approval/) and refuses the job unless record, digest and roles still agree.
 */
export const approvalRefSchema = z.object({
  id: z.string().regex(/^[a-zA-Z0-9_-]{16,64}$/),
  approvers: z.array(actorSchema.pick({ userId: true, teamId: true })).min(1).max(10),
});
export type ApprovalRef = z.infer<typeof approvalRefSchema>;

export const envelopeSchema = z.object({
  requestId: z.string().regex(/^[a-zA-Z0-9_-]{8,64}$/),
  command: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/),
  args: z.record(z.string(), z.unknown()),
  actor: actorSchema,
  origin: originSchema,
  requestedAt: z.number().int(),
  approval: approvalRefSchema.optional(),
  /** The target (`--on`) the job is for; absent on a single-stack setup. Bound into the approval digest. */
  target: z.string().regex(/^[a-z][a-z0-9-]{0,23}$/).optional(),
});
export type JobEnvelope = z.infer<typeof envelopeSchema>;

/**
 * A message not tied to a request: alerts and scheduled reports. `key` names a thread
 * (e.g. `incident:<id>`): `root` posts its first message, `update-root` edits it in place,
 * `thread` replies under it. The bot keeps key → message ts in Redis.
 */
export const noticeSchema = z.object({
  type: z.literal('notice'),
  key: z.string().regex(/^[a-zA-Z0-9:_.-]{1,120}$/),
  action: z.enum(['root', 'update-root', 'thread']),
  /** A channel ID; defaults to `channels.alerts`. */
  channel: z.string().regex(/^[CGD][A-Z0-9]{2,}$/).optional(),
  text: z.string().max(4000),
  blocks: z.array(z.record(z.string(), z.unknown())).max(50).optional(),
});
export type Notice = z.infer<typeof noticeSchema>;

/** Messages the worker sends back for the bot to say in chat. */
export const replySchema = z.discriminatedUnion('type', [
  noticeSchema,
  z.object({
    type: z.literal('progress'),
    requestId: z.string(),
    target: z.string().max(24).optional(),
    command: z.string(),
    origin: originSchema,
    text: z.string().max(500),
  }),
  z.object({
    type: z.literal('result'),
    requestId: z.string(),
    target: z.string().max(24).optional(),
    command: z.string(),
    args: z.record(z.string(), z.unknown()),
    origin: originSchema,
    result: z.unknown(),
    durationMs: z.number(),
  }),
  z.object({
    type: z.literal('error'),
    requestId: z.string(),
    target: z.string().max(24).optional(),
    command: z.string(),
    origin: originSchema,
    code: z.string(),
    message: z.string().max(2000),
    durationMs: z.number(),
  }),
]);
export type Reply = z.infer<typeof replySchema>;
