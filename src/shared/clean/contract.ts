import { z } from 'zod';
import { pinnedKeys } from '../contracts/pinned-plan.ts';

/** `container:<64 hex>`, `image:sha256:<64 hex>` or `volume:<name>`: what an approval pins. */
export const CLEAN_KEY = /^(container:[a-f0-9]{64}|image:sha256:[a-f0-9]{64}|volume:[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254})$/;

export const cleanArgs = z
  .object({
    /** Also unused volumes and images of the project: needs a second person's approval. */
    deep: z.boolean().optional(),
    /** List what would go, remove nothing. */
    dryRun: z.boolean().optional(),
    /**
     * Pinned by the approval flow for `--deep`: exactly the objects the approver saw. The run removes
     * these (if still unused) and nothing else; anything that appeared after approval stays.
     */
    approved: pinnedKeys(CLEAN_KEY, 5000).optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.approved && !a.deep) ctx.addIssue({ code: 'custom', message: 'the approved list belongs to --deep' });
  });
export type CleanArgs = z.infer<typeof cleanArgs>;

export type CleanKind = 'container' | 'image' | 'volume';

export interface CleanItem {
  readonly kind: CleanKind;
  /** Container id, image id (sha256:…) or volume name. */
  readonly id: string;
  /** What a person recognises: container name, image tags, volume name. */
  readonly name: string;
  /** Bytes the removal frees (containers: writable layer; images: not shared with others; volumes: data). */
  readonly bytes: number;
  readonly why: string;
  /** Only `--deep` removes it. */
  readonly deep: boolean;
}

export interface CleanPlan {
  readonly project: string;
  readonly deep: boolean;
  readonly items: readonly CleanItem[];
  /** Unused volumes of the project kept because `clean.protect` names them. */
  readonly protectedVolumes: readonly string[];
  /** Build cache the Engine could free; pruned only when `clean.buildCache` is true. */
  readonly buildCacheBytes: number;
  readonly notes: readonly string[];
}

export type CleanStatus = 'removed' | 'planned' | 'skipped';

export interface CleanOutcome extends CleanItem {
  readonly status: CleanStatus;
  readonly detail?: string;
}

export interface CleanResult {
  readonly project: string;
  readonly deep: boolean;
  readonly dryRun: boolean;
  readonly items: readonly CleanOutcome[];
  /** Objects eligible now that the approver did not see: left alone. */
  readonly notApproved: readonly CleanItem[];
  readonly protectedVolumes: readonly string[];
  readonly reclaimedBytes: number;
  readonly buildCache: { readonly bytes: number; readonly pruned: boolean; readonly reclaimedBytes: number };
  readonly notes: readonly string[];
}

export function itemKey(i: Pick<CleanItem, 'kind' | 'id'>): string {
  return `${i.kind}:${i.id}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`;
}

/** One line per object, as the approval request and the reply show it. */
export function describeItem(i: CleanItem): string {
  return `${i.kind} ${i.name} (${formatBytes(i.bytes)}) — ${i.why}`;
}
