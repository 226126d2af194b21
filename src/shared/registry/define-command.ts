import type { z } from 'zod';
import type { Block } from '../render/blocks.ts';
import type { Actor, Origin } from '../contracts/envelope.ts';
import type { ApprovalReader } from '../approval/types.ts';
import type { TargetStatus, TargetsView } from '../targets-view.ts';
import type { AuditReader } from '../audit/audit.ts';

/** Roles are ranked: an approver may do what an operator may, an operator what a viewer may. */
export const ROLE_RANK = { everyone: 0, viewer: 1, operator: 2, approver: 3 } as const;
export type Role = keyof typeof ROLE_RANK;

export interface SlackMessage {
  readonly text: string;
  readonly blocks?: Block[];
  /** Output too long for a message (e.g. log lines): uploaded as a text file in the message's thread. */
  readonly file?: { readonly filename: string; readonly content: string; readonly title?: string };
  /** Details posted as replies in the message's thread, so the message itself stays one screen. */
  readonly thread?: readonly SlackMessage[];
}

export interface AnswerContext {
  readonly actor: Actor;
  readonly origin: Origin;
  readonly registry: ReadonlyMap<string, AnyCommand>;
  /** Read-only view of approval requests (`/cdb approvals`); absent where there is no Redis. */
  readonly approvals?: ApprovalReader;
  /** Targets with their workers and queues (`/cdb targets`); absent where there is no Redis. */
  readonly targets?: TargetsView;
  /** Read-only view of the audit stream (`/cdb audit`); absent where there is no Redis. */
  readonly audit?: AuditReader;
  /** Step-up enrollment (`/cdb enroll`): only where the bot can DM the user (Slack). */
  readonly stepUp?: StepUpEnroller;
}

/** What `/cdb enroll` needs from the bot: start an enrollment by DM and say what happened. */
export interface StepUpEnroller {
  enroll(actor: Actor): Promise<string>;
}

/**
 * A read-only job (e.g. rollback-plan) that the approval flow runs first. Its lines head "What will
 * change", and `pin` adds arguments to the approved request (e.g. the plan's fingerprint, so that the
 * run refuses if the stack moved on after the approver looked). Pinned arguments are in the digest.
 */
export interface ApprovalPlan<A> {
  readonly job: string;
  /** Arguments for the plan job (default: the command's); undefined means no plan for these args. */
  args?(args: A): Record<string, unknown> | undefined;
  lines(result: unknown, args: A): string[];
  pin?(result: unknown, args: A): Record<string, unknown>;
}

interface CommandBase<S extends z.ZodType> {
  /** The subcommand word, lowercase. */
  readonly name: string;
  readonly summary: string;
  /** e.g. `status [service]`; shown in help. */
  readonly usage: string;
  readonly help?: string;
  readonly examples?: readonly string[];
  readonly role: Role;
  /**
   * The role these arguments need when some need more than `role` (e.g. `doctor --fix` changes the
   * stack, so it needs operator). Checked before anything is enqueued or an approval is requested.
   */
  roleFor?(args: z.output<S>): Role;
  /**
   * Destructive commands: only run after a second person approves (see docs/security.md).
   * `approvals.commands` in the config can add commands to this, never exempt one.
   */
  readonly approval?: boolean;
  /**
   * Narrows approval to the risky argument combinations (e.g. doctor only with --fix of destructive
   * items). Without it, every run of an approval command needs approval.
   */
  needsApproval?(args: z.output<S>): boolean;
  /** What the run will change (services, images, secrets by name), shown on the approval request. */
  approvalSummary?(args: z.output<S>): string[];
  /** When only the worker can tell what will change: a read-only job run before the request is posted. */
  readonly approvalPlan?: ApprovalPlan<z.output<S>>;
  /** Names given to positional words, in order; a trailing `...name` collects the rest. */
  readonly positionals?: readonly string[];
  readonly args: S;
}

/** A command answered by the bot itself, with no privileged work. */
export interface AnswerCommand<S extends z.ZodType> extends CommandBase<S> {
  readonly kind: 'answer';
  answer(args: z.output<S>, ctx: AnswerContext): SlackMessage | Promise<SlackMessage>;
  text(args: z.output<S>, ctx: AnswerContext): string | Promise<string>;
}

/** A command the worker does: the bot enqueues `job` with the validated args as data. */
export interface JobCommand<S extends z.ZodType, R> extends CommandBase<S> {
  readonly kind: 'job';
  /** The job it enqueues (the default when `jobFor` is given). */
  readonly job: string;
  /**
   * One command, several jobs chosen by argument (`rotate wireguard <tunnel>` runs `rotate-wireguard`,
   * `rotate <secret>` runs `rotate`). The chosen job is bound into the approval digest like any other.
   */
  jobFor?(args: z.output<S>): string;
  /** Every job `jobFor` may return besides `job`: the worker's approval gate finds the command by job. */
  readonly otherJobs?: readonly string[];
  /** Chat rendering of the worker's result. */
  slack(result: R, args: z.output<S>): SlackMessage;
  /** Terminal rendering of the worker's result (the CLI's default output). */
  text(result: R, args: z.output<S>): string;
  /** CLI exit code for a result (0 unless the result reports a failure). */
  exitCode?(result: R): number;
  /**
   * Without `--on` on a multi-target setup: the bot answers with one line per target from the
   * workers' heartbeats instead of asking which target (`/cdb status`).
   */
  readonly acrossTargets?: { slack(targets: readonly TargetStatus[]): SlackMessage; text(targets: readonly TargetStatus[]): string };
}

/**
 * The role needed to run `command` with these (validated) arguments: never less than `role`; a
 * `roleFor` that throws asks for the highest role (fail closed).
 */
export function requiredRole(command: AnyCommand, args: Record<string, unknown>): Role {
  let extra: Role = command.role;
  try {
    extra = command.roleFor?.(args) ?? command.role;
  } catch {
    extra = 'approver';
  }
  return ROLE_RANK[extra] > ROLE_RANK[command.role] ? extra : command.role;
}

/** The job a job command enqueues for these (validated) arguments. */
export function jobOf(command: JobCommand<z.ZodType, unknown>, args: Record<string, unknown>): string {
  return command.jobFor?.(args) ?? command.job;
}

/** Whether `command` may enqueue `job` (its default job or one `jobFor` may choose). */
export function runsJob(command: AnyCommand, job: string): boolean {
  return command.kind === 'job' && (command.job === job || (command.otherJobs ?? []).includes(job));
}

export type CommandDef<S extends z.ZodType, R = unknown> = AnswerCommand<S> | JobCommand<S, R>;

// Method signatures above are bivariant, so any concrete command fits here; callers re-validate with `args`.
export type AnyCommand = CommandDef<z.ZodType, unknown>;

const NAME = /^[a-z][a-z0-9-]{0,30}$/;

export function defineCommand<S extends z.ZodType, R = unknown>(def: CommandDef<S, R>): CommandDef<S, R> {
  if (!NAME.test(def.name)) throw new Error(`command name ${JSON.stringify(def.name)} must match ${NAME}`);
  return Object.freeze(def);
}
