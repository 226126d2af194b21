import { z } from 'zod';

/**
 * What a second person approves for a destructive command is a plan the worker computed, and the
 * approved request is pinned to it: the run refuses (fingerprint) or limits itself to (list) exactly
 * what the approver saw. Restore, rollback and deep clean share these shapes.
 */

/** 16 hex digits over the plan's content: the run recomputes it and refuses when it differs. */
export const planFingerprint = z.string().regex(/^[a-f0-9]{16}$/, 'a plan fingerprint (16 hex digits)');
export type PlanFingerprint = z.output<typeof planFingerprint>;

/** A computed plan an approval can pin: the exact items it would change and their fingerprint. */
export interface PinnedPlan<Item> {
  readonly items: readonly Item[];
  readonly fingerprint: PlanFingerprint;
}

/** The exact list of object keys an approver saw: the run touches these and nothing that appeared later. */
export function pinnedKeys(key: RegExp, max: number): z.ZodArray<z.ZodString> {
  return z.array(z.string().regex(key, 'an object key')).max(max);
}
