import type { Config } from '../../shared/config/schema.ts';
import type { CheckId, Finding, RunbookId, Severity, TargetKind } from '../../shared/contracts/doctor.ts';
import type { ComposeModel } from '../../host/compose/model.ts';
import type { PublishedPort } from '../../host/compose/ports.ts';
import type { FileFacts } from '../../host/host-files.ts';

/**
 * What the checks look at: the Engine API's answers narrowed to the fields the rules need, gathered
 * once per run by collect.ts. Checks are pure functions of this, so unit tests build it by hand.
 */

export type DoctorConfig = Config['doctor'];

export interface MountView {
  readonly type: string;
  /** Volume name, for `volume` mounts. */
  readonly name?: string;
  readonly source: string;
  readonly destination: string;
  readonly rw: boolean;
}

export interface ContainerView {
  readonly id: string;
  readonly name: string;
  readonly service?: string;
  readonly oneOff: boolean;
  /** As configured (Config.Image), e.g. `postgres:16`. */
  readonly image: string;
  /** The image ID the container was created from. */
  readonly imageId: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly state: {
    readonly status: string;
    readonly running: boolean;
    readonly restarting: boolean;
    readonly exitCode: number;
    readonly oomKilled: boolean;
    readonly error: string;
    readonly startedAt?: string;
    readonly health?: { readonly status: string; readonly failingStreak: number; readonly lastExitCode?: number };
  };
  readonly restartCount: number;
  /** Config.User: the image's USER unless the service overrides it. */
  readonly user: string;
  /** Held in memory for the rules only; findings name variables, never values. */
  readonly env: readonly { readonly name: string; readonly value: string }[];
  /** Entrypoint followed by Cmd. */
  readonly argv: readonly string[];
  readonly healthcheck?: readonly string[];
  readonly host: {
    readonly privileged: boolean;
    readonly readonlyRootfs: boolean;
    readonly capAdd: readonly string[];
    readonly capDrop: readonly string[];
    readonly securityOpt: readonly string[];
    readonly networkMode: string;
    readonly pidMode: string;
    readonly ipcMode: string;
    readonly utsMode: string;
    readonly memory: number;
    readonly pidsLimit: number | null;
    readonly restartPolicy: string;
    readonly logDriver: string;
    readonly logOptions: Readonly<Record<string, string>>;
  };
  /** Bound ports if running, else the configured bindings. */
  readonly ports: readonly PublishedPort[];
  readonly mounts: readonly MountView[];
  readonly networks: readonly { readonly name: string; readonly id: string }[];
}

export interface VolumeView {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface NetworkView {
  readonly id: string;
  readonly name: string;
  readonly internal: boolean;
  readonly labels: Readonly<Record<string, string>>;
}

/** Containers of other projects: only what the list call says (for port conflicts). */
export interface OtherContainer {
  readonly id: string;
  readonly name: string;
  readonly ports: readonly PublishedPort[];
}

export interface Snapshot {
  readonly project: string;
  readonly doctor: DoctorConfig;
  readonly containers: readonly ContainerView[];
  readonly otherContainers: readonly OtherContainer[];
  readonly volumes: readonly VolumeView[];
  /** Every network on the host (external ones carry no project label). */
  readonly networks: readonly NetworkView[];
  /** Image tag → image ID, for "the tag moved on" drift. */
  readonly images: ReadonlyMap<string, string>;
  readonly compose?: ComposeModel;
  /** Why there is no compose model, when there is none. */
  readonly composeProblem?: string;
  /** Secret files, by host path. */
  readonly files: ReadonlyMap<string, FileFacts>;
  /** Restart counts by container ID at the previous scheduled run. */
  readonly previousRestarts?: Readonly<Record<string, number>>;
}

/** What a check may need beyond the project's containers; the collector fetches only that. */
export type Need = 'compose' | 'volumes' | 'networks' | 'images' | 'otherContainers' | 'files';

/** A problem a check found; the runner turns it into a Finding. */
export interface Issue {
  readonly severity: Exclude<Severity, 'info'>;
  readonly name: string;
  readonly service?: string;
  readonly target?: TargetKind;
  readonly detail: string;
  readonly evidence?: string;
  readonly fix?: string;
  /** A more specific runbook than the check's own (e.g. failing health checks). */
  readonly runbook?: RunbookId;
  /** For --fix: a stopped orphan container is safe to remove; anything else needs approval. */
  readonly autofix?: { readonly kind: 'remove-container' | 'remove-running-container' | 'remove-volume'; readonly id: string };
}

export interface Check {
  readonly id: CheckId;
  readonly needs?: readonly Need[];
  /** Pure: reads the snapshot, returns what is wrong (nothing means pass). */
  run(snap: Snapshot): Issue[];
  /** The pass line's text, e.g. "12 containers run as a non-root user". */
  passDetail?(snap: Snapshot): string;
}

export type { FileFacts, Finding, PublishedPort };
