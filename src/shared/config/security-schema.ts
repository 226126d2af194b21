import { z } from 'zod';
import { commandName, slackChannelId } from './ids.ts';

/** `audit`: the capped, hash-chained audit stream and its checkpoints (docs/security.md). */
export const auditSection = z
  .object({
    streamMaxLen: z.number().int().min(100).default(10000),
    /** How often the bot writes a signed checkpoint of the chain's head (0 = never). */
    checkpointMinutes: z.number().min(0).max(24 * 60).default(60),
    /** Append-only JSON-lines file the checkpoints are written to (on the bot host). */
    checkpointFile: z.string().min(1).optional(),
    /** Channel the checkpoints are posted to. */
    checkpointChannel: slackChannelId.optional(),
  })
  .strict()
  .prefault({});

/** `security`: request replay protection, rate limits and step-up codes (docs/security.md). */
export const securitySection = z
  .object({
    /** Remember each signed request (and Socket Mode envelope, and event id) for the signature window. */
    replayProtection: z.boolean().default(true),
    rateLimits: z
      .object({
        enabled: z.boolean().default(true),
        windowSeconds: z.number().int().min(1).max(3600).default(60),
        /** Commands per user per window, all commands together. */
        perUser: z.number().int().min(1).max(10000).default(10),
        /** Lower limits per user for single commands (runs of that command per window). */
        commands: z.record(commandName, z.number().int().min(1).max(10000)).default({ doctor: 3, logs: 5 }),
      })
      .strict()
      .prefault({}),
    /** BullMQ priority of jobs users ask for; alert ticks, schedules and approved jobs carry none and go first. */
    userJobPriority: z.number().int().min(1).max(2_097_152).default(10),
    stepUp: z
      .object({
        /** Commands whose approvers confirm with a TOTP code (opt-in, e.g. restore, rotate). */
        commands: z.array(commandName).default([]),
        /** Wrong codes in a row before the approver is locked out of step-up. */
        maxFailures: z.number().int().min(1).max(100).default(5),
        lockoutMinutes: z.number().min(0.05).max(24 * 60).default(15),
        /** How long an unconfirmed enrollment (and its DM) stays valid. */
        enrollMinutes: z.number().min(1).max(24 * 60).default(10),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});
export type SecurityConfig = z.infer<typeof securitySection>;
