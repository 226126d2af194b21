import { z } from 'zod';
import { planFingerprint, type PinnedPlan } from './pinned-plan.ts';
import { serviceName } from './status.ts';

/**
 * Tag names are checked against this before anything reaches Docker: they become image tags,
 * file names on the worker and Redis keys, so nothing outside this shape is ever let through.
 */
export const TAG_NAME = /^(rollback|pre-rollback)-\d{8}-\d{6}(-[a-z0-9-]{1,20})?$/;

export const tagName = z.string().regex(TAG_NAME, 'a tag such as rollback-20251224-153000 (see `/cdb tags`), or latest');
/** What a user may ask to roll back to: a tag, or `latest` (the newest tag made with `/cdb tag`). */
export const tagTarget = z.union([z.literal('latest'), tagName]);
export const tagLabel = z.string().regex(/^[a-z0-9-]{1,20}$/, 'a label of 1–20 lowercase letters, digits or "-"');

export function isTagName(value: string): boolean {
  return TAG_NAME.test(value);
}

export const tagArgs = z.object({ label: tagLabel.optional() }).strict();
export const tagsArgs = z.object({ limit: z.coerce.number().int().min(1).max(50).optional() }).strict();

/** A fingerprint of a computed plan: the rollback refuses to run if the stack moved on since. */
export { planFingerprint };

export const rollbackPlanArgs = z
  .object({
    tag: tagTarget,
    services: z.array(serviceName).min(1).max(50).optional(),
  })
  .strict();

export const rollbackArgs = z
  .object({
    tag: tagTarget.optional(),
    services: z.array(serviceName).min(1).max(50).optional(),
    /** Removes the pin (the rollback.yml overlay) instead of rolling back. */
    clear: z.literal(true).optional(),
    /** Set by the approval flow: the fingerprint of the plan the approver saw. */
    expectPlan: planFingerprint.optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.clear && (a.tag || a.services || a.expectPlan)) ctx.addIssue({ code: 'custom', message: '--clear takes no tag or services' });
    if (!a.clear && !a.tag) ctx.addIssue({ code: 'custom', path: ['tag'], message: 'name a tag (see `/cdb tags`) or latest' });
  });
export type RollbackArgs = z.output<typeof rollbackArgs>;

export type TagKind = 'rollback' | 'pre-rollback';

export interface ManifestService {
  /** The image ID (sha256:…) the service ran when tagged. */
  readonly imageId: string;
  /** The local tag that keeps that image: cdb-rollback/<project>/<service>:<tag>. */
  readonly ref: string;
  /** The image reference the container was created from (compose's `image:`). */
  readonly originalRef: string;
  /** The com.docker.compose.config-hash label, when the container has one. */
  readonly configHash?: string;
  readonly containers: number;
}

export interface RollbackManifest {
  readonly version: 1;
  readonly tag: string;
  readonly kind: TagKind;
  readonly label?: string;
  readonly project: string;
  readonly createdAt: string;
  readonly createdBy: { readonly userId: string; readonly name?: string };
  readonly requestId: string;
  readonly services: Readonly<Record<string, ManifestService>>;
}

export interface TagResult {
  readonly project: string;
  readonly tag: string;
  readonly services: ReadonlyArray<{ readonly service: string; readonly imageId: string; readonly originalRef: string; readonly ref: string }>;
  readonly manifestFile: string;
  readonly pruned: readonly string[];
  readonly durationMs: number;
}

export interface TagSummary {
  readonly tag: string;
  readonly kind: TagKind;
  readonly label?: string;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly services: number;
  /** Services whose image differs from what runs now. */
  readonly differs: readonly string[];
  /** Services of the tag that have no container now. */
  readonly missing: readonly string[];
  readonly pinned: boolean;
}

export interface TagsResult {
  readonly project: string;
  readonly keep: number;
  readonly tags: readonly TagSummary[];
  /** service → tag, read from the overlay on the stack host. */
  readonly pins: Readonly<Record<string, string>>;
  readonly overlayPath?: string;
}

export interface PlanItem {
  readonly service: string;
  readonly action: 'recreate' | 'unchanged' | 'missing';
  /** Why a service is recreated without being in the tag, or why it is skipped. */
  readonly reason?: string;
  readonly containers: readonly string[];
  readonly currentImage?: string;
  readonly currentRef?: string;
  readonly targetImage: string;
  readonly targetRef: string;
  readonly originalRef?: string;
}

export interface RollbackPlan extends PinnedPlan<PlanItem> {
  readonly project: string;
  readonly tag: string;
  readonly requested: string;
  readonly taggedAt: string;
  readonly taggedBy: string;
  readonly items: readonly PlanItem[];
  /** Services in dependency order, grouped: each group may start once the previous ones are healthy. */
  readonly order: readonly (readonly string[])[];
  readonly fingerprint: string;
  readonly overlayPath?: string;
}

export type ServiceOutcome = 'healthy' | 'running' | 'failed' | 'not-started' | 'restored';

export interface ServiceTiming {
  readonly service: string;
  readonly containers: readonly string[];
  readonly fromImage: string;
  readonly toImage: string;
  readonly outcome: ServiceOutcome;
  readonly ms: number;
  readonly detail?: string;
}

export interface RollbackAttempt {
  readonly kind: 'rollback' | 'revert';
  readonly ok: boolean;
  readonly ms: number;
  readonly services: readonly ServiceTiming[];
}

/**
 * Set when the worker that ran a rollback died and another finished or reverted it from the
 * journal (src/rollback/recover.ts): what happened, and what serves now.
 */
export interface RollbackRecovery {
  /** Where the first worker stopped, e.g. "at `stop` of web (cdb_web_1)" or "after `create` of web (…)". */
  readonly interruptedAt: string;
  readonly outcome: 'finished' | 'reverted' | 'partial' | 'nothing-changed';
  /** The worker that recovered it (host#pid). */
  readonly by: string;
  readonly services: ReadonlyArray<{ readonly service: string; readonly outcome: 'rolled back' | 'restored' | 'failed'; readonly detail?: string }>;
  readonly serving: ReadonlyArray<{ readonly service: string; readonly container: string; readonly image: string; readonly ref: string; readonly state: string }>;
  /** Leftover containers (`…_cdb-new-…`, `…_cdb-parked-…`) it removed. */
  readonly removed: readonly string[];
}

export interface RollbackResult {
  readonly mode: 'rollback';
  readonly project: string;
  readonly tag: string;
  readonly ok: boolean;
  readonly preRollbackTag?: string;
  readonly plan: RollbackPlan;
  readonly attempts: readonly RollbackAttempt[];
  readonly overlay: { readonly path?: string; readonly written: boolean; readonly note?: string };
  readonly totalMs: number;
  readonly targetMs: number;
  readonly recovery?: RollbackRecovery;
}

export interface ClearResult {
  readonly mode: 'clear';
  readonly project: string;
  readonly overlayPath: string;
  readonly removed: boolean;
  readonly pins: Readonly<Record<string, string>>;
}

export type RollbackJobResult = RollbackResult | ClearResult;

/** Criterion A of the seeds: a rollback must finish in under a minute. */
export const ROLLBACK_TARGET_MS = 60_000;
