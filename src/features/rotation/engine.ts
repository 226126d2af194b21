/**
 * The secret-rotation engine: a rotation is a **step machine** (the AWS Secrets Manager shape:
 * create pending → set → test → finish), run by the worker after approval.
 *
 * How a kind plugs in (redis, api-key, app-secret, postgres, mariadb here; WireGuard in issue 13):
 *
 * 1. Implement `RotationKind<S>` in `src/features/rotation/kinds/<kind>.ts`:
 *    - `steps`: the ordered steps. Every step is **idempotent**: it may run again after a worker was
 *      killed inside it (check before you change: "is the new password already in the ACL?").
 *    - `rollback`: brings the stack back to the previous value from whatever point the journal says
 *      was reached (also idempotent: it runs again if the worker dies while rolling back).
 *    - `S` is the kind's journaled state: **identifiers only** (file paths, user names, step notes),
 *      never a value, hash or length. Values live in files on the hosts (the secret file, the root-only
 *      pending and previous files under `stateDir`) and in the worker's memory while a step runs.
 * 2. Register it in `kinds/index.ts` (kind name → object). The config's `rotation.secrets[].kind`
 *    names it, and `options` (validated by the kind's `options` schema) carries the rest.
 * 3. Steps reach hosts through `ctx.host` (the stack host, local or over SSH with pinned keys) or
 *    `ctx.openHost(name)` for other hosts (a kind that spans two hosts, like WireGuard, opens both:
 *    `openHost` is given by the runner's deps, so the multi-host helper can supply its own).
 *
 * The engine (run.ts) journals `{step, phase, state}` in Redis after every step, holds a lease
 * while it works, runs a downtime probe per consumer every 100 ms for the whole rotation, and on
 * failure calls `rollback`. A worker that starts finds rotations whose lease expired (their
 * worker was killed) and resumes them: forward from the recorded step, or on with the rollback if
 * that was under way. The thread is told which.
 */
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { z } from 'zod';

/** One consumer of a secret: a compose service whose containers read the secret file. */
export interface ConsumerSpec {
  readonly service: string;
  /**
   * `restart`: the service reads the secret at start, so it is restarted (one container at a time,
   * with a health wait) after the file changed. `none`: it reads the file on each use.
   */
  readonly reload: 'restart' | 'none';
  /** Probe run inside a container every 100 ms (argv, no shell unless you name one); default: the container's healthcheck. */
  readonly probe?: readonly string[];
  /** Where the secret file is mounted in the container (default /run/secrets/<file name>). */
  readonly mountPath?: string;
}

/** A managed secret as the config declares it (`rotation.secrets[]`). */
export interface SecretSpec {
  readonly name: string;
  readonly kind: string;
  /** The secret file on the stack host (absolute). */
  readonly file: string;
  readonly consumers: readonly ConsumerSpec[];
  readonly scheduleDays: number;
  /** Kind-specific settings, parsed by the kind's `options` schema. */
  readonly options: Readonly<Record<string, unknown>>;
}

/** Files on one host, for secret material: reads exact bytes, writes **in place** with mode 0600. */
export interface SecretHost {
  readonly where: string;
  read(path: string): Promise<string | undefined>;
  /**
   * Truncates and rewrites the existing file (same inode) so a single-file bind mount sees the new
   * value (moby#22627); creates it (0600) when missing. Never renames over the file.
   */
  writeInPlace(path: string, value: string): Promise<void>;
  remove(path: string): Promise<boolean>;
  /** Last modification (ms since epoch), for the age of a secret never rotated by the bot. */
  modifiedAt?(path: string): Promise<number | undefined>;
  /** Creates a root-only (0700) directory. */
  ensureDir?(path: string): Promise<void>;
  /** Runs a program (argv, never a shell string) on the host; for `wg` and the like. */
  exec?(argv: readonly string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

/** What the consumers of a secret can be asked to do (containers found by compose labels). */
export interface ConsumerOps {
  /** Restarts the service's containers one at a time, each with a health wait; throws when one fails. */
  restart(service: string): Promise<void>;
  /** Runs argv in each running container of the service; resolves with the exit codes (stdout discarded). */
  execAll(service: string, argv: readonly string[]): Promise<number[]>;
  /** True when every running container of the service reads exactly `value` at `mountPath`. */
  sees(service: string, mountPath: string, value: string): Promise<boolean>;
}

export interface StepContext<S> {
  readonly rotationId: string;
  readonly secret: SecretSpec;
  /** The kind's options, as its schema parsed them. */
  readonly options: Readonly<Record<string, unknown>>;
  /** The journaled state; `save` merges and journals before it resolves. */
  readonly state: Readonly<S>;
  save(patch: Partial<S>): Promise<void>;
  /** The stack host's files. */
  readonly host: SecretHost;
  /** Another host by name (multi-host kinds); the runner closes it afterwards. */
  openHost(name: string): Promise<SecretHost>;
  /** Root-only directory on the stack host for pending and previous values. */
  readonly stateDir: string;
  readonly docker: Docker;
  readonly project: string;
  readonly consumers: ConsumerOps;
  readonly log: Logger;
  readonly signal: AbortSignal;
  progress(text: string): void;
  /**
   * A job of the worker's queue to run at `runAt` (ms since epoch), e.g. the end of a dual-key
   * window: a BullMQ delayed job, kept in Redis, so it survives worker restarts. `key` names it
   * (scheduling the same key again replaces it). Args are identifiers only.
   */
  schedule(key: string, job: string, args: Record<string, unknown>, runAt: number): Promise<void>;
  unschedule(key: string): Promise<void>;
}

export interface RotationStep<S> {
  /** kebab-case, unique within the kind; shown in the thread and journaled. */
  readonly name: string;
  /** What it does, for the approval request's plan. */
  readonly summary: string;
  run(ctx: StepContext<S>): Promise<void>;
  /**
   * From this step on, the old value is gone (e.g. `<old` removed from the ACL): a failure is no
   * longer rolled back, the step is retried (it is idempotent) and the thread says so.
   */
  readonly pointOfNoReturn?: boolean;
}

/** What the approval request shows before anything runs. */
export interface KindPlan {
  readonly steps: readonly string[];
  /** Services restarted, in this order. */
  readonly restarts: readonly string[];
  readonly expectedDowntimeMs: number;
  readonly warnings: readonly string[];
}

export interface RotationKind<S extends object = Record<string, unknown>> {
  readonly kind: string;
  /** Parses `SecretSpec.options`; throw (zod) on a bad config. */
  readonly options: z.ZodType<Record<string, unknown>>;
  /** Default schedule in days when the config gives none (the seeds' table). */
  readonly defaultScheduleDays: number;
  initialState(secret: SecretSpec): S;
  readonly steps: readonly RotationStep<S>[];
  plan(secret: SecretSpec): KindPlan;
  /** Undoes whatever the steps did; returns lines for the thread ("restored the previous value in …"). */
  rollback(ctx: StepContext<S>): Promise<string[]>;
  /** Optional last words for the thread after success (e.g. "sessions were invalidated"). */
  after?(ctx: StepContext<S>): string[];
  /**
   * Other step lists behind a flag: `setup` (first-time preparation, e.g. the second database
   * user; its plan is a dry run) and `finish` (end a dual-key window early). Same engine, journal
   * and lease; `rollback` defaults to the kind's.
   */
  readonly modes?: Partial<Record<'setup' | 'finish', ModeDef<S>>>;
  /** For `setup`: what the plan job shows (a dry run against the live stack). */
  dryRun?(ctx: StepContext<S>, mode: 'setup' | 'finish'): Promise<string[]>;
}

export interface ModeDef<S extends object> {
  readonly steps: readonly RotationStep<S>[];
  plan(secret: SecretSpec): KindPlan;
  rollback?(ctx: StepContext<S>): Promise<string[]>;
}

export type RotationMode = 'rotate' | 'setup' | 'finish';

/** The journal entry of one rotation in Redis (`<prefix>:rotation:journal:<secret>`). No values. */
export interface Journal {
  readonly id: string;
  readonly secret: string;
  readonly kind: string;
  /** Index of the next step to run (forward) — steps before it are done. */
  step: number;
  phase: 'forward' | 'rollback';
  status: 'running' | 'succeeded' | 'rolled-back' | 'failed';
  state: Record<string, unknown>;
  readonly requestId: string;
  readonly command: string;
  readonly args: Record<string, unknown>;
  readonly origin: { kind: string; channel?: string; threadTs?: string };
  readonly actor: { userId: string; teamId: string; name?: string };
  readonly startedAt: number;
  /** Step name → ms spent, in order; a resumed step appears once with the sum. */
  stepsDone: { name: string; ms: number }[];
  /** Notes for the thread (rollback lines, resume notes). */
  notes: string[];
  /** Per consumer, the probe's count of requests and failures and the measured downtime. */
  probes: ProbeResult[];
  /** Workers that ran it, in order (a resume appends). */
  workers: string[];
  error?: string;
  finishedAt?: number;
}

export interface ProbeResult {
  readonly service: string;
  probes: number;
  failures: number;
  downtimeMs: number;
}

/** What `/cdb rotate` returns (crosses Redis: no values). */
export interface RotationResult {
  readonly mode: RotationMode;
  readonly secret: string;
  readonly kind: string;
  readonly status: Journal['status'];
  readonly steps: readonly { name: string; ms: number }[];
  readonly probes: readonly ProbeResult[];
  readonly notes: readonly string[];
  readonly resumed: boolean;
  readonly totalMs: number;
  readonly error?: string;
}
