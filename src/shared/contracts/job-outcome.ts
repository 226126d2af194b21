import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../errors.ts';

const codes = Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]];

/**
 * What a job hands back to BullMQ as its return value. Jobs of origin `plan` (read-only work for an
 * approval request) carry their result or their failure here, as data, for the bot to read with
 * `job.waitUntilFinished`; other origins report through the replies queue and return `ok` only.
 */
export const jobOutcomeSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), durationMs: z.number(), result: z.unknown().optional() }),
  z.object({ ok: z.literal(false), durationMs: z.number(), code: z.enum(codes), message: z.string().max(2000) }),
]);
export type JobOutcome = z.infer<typeof jobOutcomeSchema>;
