import { z } from 'zod';
import { planFingerprint, type PinnedPlan } from './pinned-plan.ts';

/**
 * Backup names are checked against this before any file, Docker or SFTP call: they become
 * directory names on the worker host and on the off-site host, so nothing else is let through.
 */
export const BACKUP_NAME = /^backup-\d{8}-\d{6}(-[a-z0-9-]{1,20})?$/;
export const backupName = z.string().regex(BACKUP_NAME, 'a backup name such as backup-20251224-153000 (see `/cdb backups`), or latest');
export const backupTarget = z.union([z.literal('latest'), backupName]);
/** A component: a database service (all its databases) or a named volume, as `/cdb backups` lists them. */
export const componentName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'a component name such as db, cache or grafana-data');
const components = z.array(componentName).min(1).max(50);
export const backupLabel = z.string().regex(/^[a-z0-9-]{1,20}$/, 'a label of 1–20 lowercase letters, digits or "-"');
/** The fingerprint of a restore plan: the restore refuses to run if backup or stack moved on since. */
export const restorePlanFingerprint = planFingerprint;

export function isBackupName(value: string): boolean {
  return BACKUP_NAME.test(value);
}

export const backupArgs = z.object({ components: components.optional(), label: backupLabel.optional() }).strict();
export const backupsArgs = z.object({ limit: z.coerce.number().int().min(1).max(50).optional() }).strict();
export const restorePlanArgs = z.object({ backup: backupTarget, components: components.optional() }).strict();
export const restoreArgs = z
  .object({
    backup: backupTarget,
    components: components.optional(),
    /** Set by the approval flow: the fingerprint of the plan the approver saw. */
    expectPlan: restorePlanFingerprint.optional(),
  })
  .strict();
export const drillArgs = z.object({ backup: backupTarget.optional() }).strict();

export type ComponentKind = 'postgres' | 'mariadb' | 'redis' | 'volume';

export interface RuntimeSpec {
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly user?: string;
  /** Environment without secret-looking values; `*_FILE` entries are paths, kept. */
  readonly env: readonly string[];
  /** Where the server keeps its data (mount destinations): fresh volumes in a drill. */
  readonly dataDirs: readonly string[];
}

/** One file of a backup: a database dump, a Redis snapshot or a volume's tar. */
export interface ArtifactEntry {
  readonly component: string;
  readonly kind: ComponentKind;
  /** File name inside the backup's directory. */
  readonly file: string;
  /** Database name (postgres, mariadb); the volume name (volume). */
  readonly target: string;
  readonly service?: string;
  readonly container?: string;
  readonly image: string;
  readonly imageId: string;
  readonly serverVersion?: string;
  /**
   * 'gzip': compressed by the worker (SQL dumps, RDB files, tars); 'pg_dump': a custom-format dump
   * stored as pg_dump wrote it (compressed by pg_dump itself; backups before this field existed are gzip).
   */
  readonly compression: 'gzip' | 'pg_dump';
  readonly encrypted: boolean;
  /** Bytes of the file as stored, and its sha256 (checkable without the private key). */
  readonly bytes: number;
  readonly sha256: string;
  /** sha256 of the compressed stream before encryption (checked by the decrypt test). */
  readonly plainSha256: string;
  /** Bytes the database or volume produced, before compression. */
  readonly rawBytes: number;
  /** Rows per table (postgres, mariadb), keys per database (redis), sha256 per file (volume). */
  readonly counts?: Readonly<Record<string, number>>;
  readonly files?: Readonly<Record<string, string>>;
  /** Redis: where the snapshot lives in the container (restored there with the server stopped). */
  readonly redisDir?: string;
  readonly redisFile?: string;
  /** How the database container ran, for the drill's scratch copy: no secret values (see runtimeOf). */
  readonly runtime?: RuntimeSpec;
  readonly startedAt: string;
  readonly finishedAt: string;
}

export interface BackupManifest {
  readonly version: 1;
  readonly name: string;
  readonly project: string;
  readonly label?: string;
  readonly kind: 'backup' | 'safety';
  readonly createdAt: string;
  readonly finishedAt: string;
  readonly requestedBy: { readonly userId: string; readonly name?: string };
  readonly requestId: string;
  /** The age recipient (public key) artifacts were encrypted to; absent: not encrypted. */
  readonly recipient?: string;
  /** Every artifact was read back from disk after writing and matched its sha256. */
  readonly verified: boolean;
  readonly artifacts: readonly ArtifactEntry[];
}

export interface OffsiteState {
  readonly host: string;
  readonly path: string;
  readonly verified: boolean;
  readonly at: string;
  readonly error?: string;
}

export interface BackupResult {
  readonly project: string;
  readonly name: string;
  readonly dir: string;
  readonly discovered: readonly string[];
  readonly artifacts: ReadonlyArray<Pick<ArtifactEntry, 'component' | 'kind' | 'target' | 'bytes' | 'rawBytes' | 'sha256' | 'counts'> & { readonly ms: number }>;
  readonly encrypted: boolean;
  readonly offsite?: OffsiteState;
  readonly pruned: readonly string[];
  readonly totalBytes: number;
  readonly durationMs: number;
}

export interface BackupSummary {
  readonly name: string;
  readonly kind: 'backup' | 'safety';
  readonly label?: string;
  readonly createdAt: string;
  readonly requestedBy: string;
  readonly components: readonly string[];
  readonly bytes: number;
  readonly encrypted: boolean;
  readonly verified: boolean;
  readonly offsite?: OffsiteState;
}

export interface BackupsResult {
  readonly project: string;
  readonly dir: string;
  readonly backups: readonly BackupSummary[];
  /** Directories that are not complete backups (a backup cut short): never listed as good. */
  readonly incomplete: number;
}

export interface RestorePlanItem {
  readonly component: string;
  readonly kind: ComponentKind;
  /** Databases, or the volume, the backup replaces. */
  readonly targets: readonly string[];
  readonly container?: string;
  readonly service?: string;
  /** Services stopped while this component is replaced, and started again after. */
  readonly dependents: readonly string[];
  readonly bytes: number;
}

export interface RestorePlan extends PinnedPlan<RestorePlanItem> {
  readonly project: string;
  readonly backup: string;
  readonly requested: string;
  readonly backupCreatedAt: string;
  readonly ageMs: number;
  readonly encrypted: boolean;
  /** Every artifact's sha256 matched when the plan was made. */
  readonly checksums: 'ok' | 'failed';
  readonly items: readonly RestorePlanItem[];
  readonly stops: readonly string[];
  readonly fingerprint: string;
}

export interface ComponentTiming {
  readonly component: string;
  readonly kind: ComponentKind;
  readonly ok: boolean;
  readonly ms: number;
  readonly detail: string;
  /** Milliseconds of the component's main steps (PostgreSQL: pg_restore, counts), summed over its databases. */
  readonly steps?: Readonly<Record<string, number>>;
}

export interface RestoreResult {
  readonly project: string;
  readonly backup: string;
  readonly ok: boolean;
  /** What the stack runs now: the backup's data, or the safety backup's (the state before). */
  readonly outcome: 'restored' | 'reverted' | 'revert-failed';
  readonly safetyBackup?: string;
  readonly verifyMs: number;
  readonly components: readonly ComponentTiming[];
  readonly stopped: readonly string[];
  readonly error?: string;
  /** The recovery time: from the first stop to healthy and verified. */
  readonly recoveryMs: number;
  readonly totalMs: number;
}

export interface DrillCheck {
  readonly component: string;
  readonly target: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface DrillResult {
  readonly project: string;
  readonly backup: string;
  readonly ok: boolean;
  readonly backupAgeMs: number;
  readonly restoreMs: number;
  readonly totalMs: number;
  readonly checks: readonly DrillCheck[];
  readonly scratchProject: string;
  /** Scratch containers, volumes and networks removed at the end (and any left over). */
  readonly cleanedUp: { readonly containers: number; readonly volumes: number; readonly networks: number; readonly ok: boolean };
  readonly error?: string;
  readonly scheduled?: boolean;
}
