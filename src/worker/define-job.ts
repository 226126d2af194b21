import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import type { Actor, Notice, Origin } from '../shared/contracts/envelope.ts';
import type { GroupDirectory } from '../shared/auth/authorize.ts';

export interface JobContext {
  readonly requestId: string;
  readonly actor: Actor;
  /** Where the request came from (its thread); a journaled job keeps it to report after a crash. */
  readonly origin?: Origin;
  readonly config: Config;
  readonly docker: Docker;
  /** The process's shared Redis connection (never a blocking one): jobs borrow it, never close it. */
  readonly redis: Redis;
  readonly log: Logger;
  /**
   * Set only when the approval gate admitted this run: the request a second person approved.
   * Jobs with destructive variants check it instead of trusting their arguments.
   */
  readonly approval?: { readonly id: string; readonly approvers: readonly string[] };
  /** User-group membership as the bot mirrors it into Redis, for role checks on the worker. */
  readonly groups?: GroupDirectory;
  /** Aborted when the job exceeds its time limit; pass it to long waits. */
  readonly signal: AbortSignal;
  /** Tells the requester what is happening; throttled, safe to call often. */
  progress(text: string): void;
  /** Posts to an alert/report thread (see Notice); resolves once queued for the bot. */
  notify(notice: Omit<Notice, 'type'>): Promise<void>;
  /**
   * Set by the worker: registers a call made once the job's result or error has been sent and its
   * approval finished (a journaled job ends its journal there). Absent when nobody reports (CLI).
   */
  readonly afterReport?: (fn: () => Promise<void>) => void;
}

export interface JobDef<S extends z.ZodType, R> {
  readonly name: string;
  /** Validates the job data again on the worker side: the queue is not trusted. */
  readonly args: S;
  readonly timeoutMs?: number;
  /**
   * The job keeps a crash journal whose recoverer finishes (or reverts) it, reports in its thread
   * and closes its approval after a crash. Other approved jobs are closed as interrupted.
   */
  readonly journaled?: true;
  run(ctx: JobContext, args: z.output<S>): Promise<R>;
}

// Method signatures are bivariant, so every concrete job fits here.
export type AnyJob = JobDef<z.ZodType, unknown>;

export function defineJob<S extends z.ZodType, R>(def: JobDef<S, R>): JobDef<S, R> {
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(def.name)) throw new Error(`job name ${JSON.stringify(def.name)} is not kebab-case`);
  return Object.freeze(def);
}

/** The job's own time limit, else the worker's default. */
export function jobTimeLimitMs(def: AnyJob, config: Pick<Config, 'worker'>): number {
  return def.timeoutMs ?? config.worker.jobTimeoutSeconds * 1000;
}
