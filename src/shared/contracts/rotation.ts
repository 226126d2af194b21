import { z } from 'zod';
import { secretName } from '../config/rotation-schema.ts';

/** What the bot and the worker exchange about rotations: names and numbers, never a value. */
export const rotationFingerprint = z.string().regex(/^[a-f0-9]{16}$/, 'a plan fingerprint (16 hex digits)');

export const rotateArgs = z
  .object({
    secret: secretName,
    /** PostgreSQL/MariaDB: create the second user (first time only). */
    setup: z.literal(true).optional(),
    /** api-key: end the `_old` window now. */
    finish: z.literal(true).optional(),
    /** Set by the approval flow: the fingerprint of the plan the approver saw. */
    expectPlan: rotationFingerprint.optional(),
  })
  .strict()
  .refine((a) => !(a.setup && a.finish), '--setup and --finish do not go together');
export type RotateArgs = z.output<typeof rotateArgs>;

export const rotatePlanArgs = z.object({ secret: secretName, setup: z.literal(true).optional(), finish: z.literal(true).optional() }).strict();
export const secretsArgs = z.object({}).strict();
export const rotateWindowArgs = z.object({ secret: secretName }).strict();

export interface RotationPlan {
  readonly secret: string;
  readonly kind: string;
  readonly mode: 'rotate' | 'setup' | 'finish';
  readonly file: string;
  readonly steps: readonly string[];
  readonly restarts: readonly string[];
  readonly consumers: readonly string[];
  readonly expectedDowntimeMs: number;
  readonly warnings: readonly string[];
  /** `--setup`: the statements the dry run found necessary. */
  readonly dryRun?: readonly string[];
  readonly fingerprint: string;
}

export interface SecretRow {
  readonly name: string;
  readonly managed: boolean;
  readonly kind?: string;
  readonly file?: string;
  readonly consumers: readonly string[];
  readonly scheduleDays?: number;
  readonly lastRotation?: { readonly at: number; readonly by: string; readonly byName?: string };
  /** Age in days, from the last rotation or else the file's modification time. */
  readonly ageDays?: number;
  readonly ageSource?: 'rotation' | 'file';
  readonly due?: 'overdue' | 'soon' | 'ok';
  readonly inProgress?: boolean;
  readonly windowUntil?: number;
}

export interface SecretsInventory {
  readonly rows: readonly SecretRow[];
  readonly problems: readonly string[];
  readonly dueSoonDays: number;
}

export interface RotationStepView {
  readonly name: string;
  readonly ms: number;
}

export interface RotationResultView {
  readonly mode: 'rotate' | 'setup' | 'finish';
  readonly secret: string;
  readonly kind: string;
  readonly status: 'running' | 'succeeded' | 'rolled-back' | 'failed';
  readonly steps: readonly RotationStepView[];
  readonly probes: readonly { service: string; probes: number; failures: number; downtimeMs: number }[];
  readonly notes: readonly string[];
  readonly resumed: boolean;
  readonly totalMs: number;
  readonly error?: string;
}
