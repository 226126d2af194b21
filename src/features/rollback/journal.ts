import { OpsError } from '../../shared/errors.ts';
import type { Actor, Origin } from '../../shared/contracts/envelope.ts';
import type { RollbackArgs, RollbackJobResult, RollbackPlan } from '../../shared/contracts/rollback.ts';
import { keyPrefix } from '../../shared/queue/names.ts';
import { JournalWriter, PROCESS_OWNER, type JournalBase } from '../../shared/journal.ts';
import { pausePoint } from '../../shared/pause-point.ts';
import type { RollbackEnv } from './env.ts';
import type { Swap } from './recreate.ts';

/** Every step a rollback (or --clear) takes, each journaled before and after it runs. */
export type RollbackStep = 'plan' | 'pre-rollback-tag' | 'create' | 'stop' | 'park' | 'rename' | 'start' | 'health' | 'remove-parked' | 'undo' | 'pin' | 'unpin';
/** Steps that change containers: a journal without one of these changed nothing. */
export const CONTAINER_STEPS: readonly string[] = ['create', 'stop', 'park', 'rename', 'start', 'undo'];

/**
 * Where the operation is. A recoverer decides on it: before `rolling` nothing changed; `rolling`
 * finishes only if every replacement runs and is healthy, else reverts; `undoing` reverts;
 * `finishing` (all healthy) finishes; `reporting` only has to tell the thread.
 */
export type RollbackPhase = 'planning' | 'tagging' | 'rolling' | 'undoing' | 'finishing' | 'unpinning' | 'reporting';

/** One container being replaced, as much as a recoverer needs: ids and names, no configuration (it may hold secrets). */
export interface SwapRecord {
  readonly service: string;
  readonly oldId: string;
  readonly name: string;
  readonly wasRunning: boolean;
  readonly stopTimeout: number;
  readonly restartPolicy?: { readonly Name?: string; readonly MaximumRetryCount?: number };
  newName?: string;
  newId?: string;
}

export interface RollbackJournalData extends JournalBase {
  readonly kind: 'rollback' | 'rollback-clear';
  readonly project: string;
  readonly actor: Actor;
  readonly origin?: Origin;
  readonly args: RollbackArgs;
  readonly approvalId?: string;
  readonly lockToken?: string;
  phase: RollbackPhase;
  plan?: RollbackPlan;
  preTag?: string;
  /** service → rollback ref: what success pins (declared services the rollback moves, nothing else). */
  pins?: Record<string, string>;
  /** Why some moved services are not pinned (not declared by the compose files, files unreadable). */
  pinNote?: string;
  /** Services the compose files declare (what an overlay may name); absent when unreadable. */
  declared?: string[];
  /** `--clear`: the pins the overlay held before it was removed. */
  cleared?: Record<string, string>;
  swaps: SwapRecord[];
  /** Set in `reporting`: what the job returns, for a recoverer to report if the owner dies first. */
  result?: RollbackJobResult;
  outcome?: string;
}

/** The owner no longer holds the journal (or the lock): it must stop changing things; a recoverer takes over. */
export class JournalLostError extends OpsError {
  constructor() {
    super('HANDED_OVER', 'This worker lost its hold on the rollback (Redis unreachable for too long?); another worker finishes or reverts it and reports here.');
  }
}

function swapRecord(s: Swap): SwapRecord {
  const p = s.restartPolicy;
  return {
    service: s.service,
    oldId: s.oldId,
    name: s.name,
    wasRunning: s.wasRunning,
    stopTimeout: s.old.Config.StopTimeout ?? 10,
    ...(p ? { restartPolicy: { Name: p.Name, MaximumRetryCount: p.MaximumRetryCount } } : {}),
  };
}

/** The owner's handle on a rollback journal. */
export class RollbackJournal {
  private constructor(
    private readonly w: JournalWriter<RollbackJournalData>,
    private readonly lockLost?: AbortSignal,
  ) {}

  static async open(env: RollbackEnv, kind: RollbackJournalData['kind'], args: RollbackArgs, lock?: { token: string; lost: AbortSignal }): Promise<RollbackJournal> {
    const now = Date.now();
    const data: RollbackJournalData = {
      v: 1, id: env.requestId, kind, scope: env.project, owner: PROCESS_OWNER, state: 'open', startedAt: now, updatedAt: now, log: [],
      project: env.project, actor: env.actor, ...(env.origin ? { origin: env.origin } : {}), args,
      ...(env.approval ? { approvalId: env.approval.id } : {}), ...(lock ? { lockToken: lock.token } : {}),
      phase: kind === 'rollback' ? 'planning' : 'unpinning', swaps: [],
    };
    return new RollbackJournal(await JournalWriter.open(env.redis, keyPrefix(env.config), data), lock?.lost);
  }

  get data(): RollbackJournalData {
    return this.w.data;
  }

  async phase(phase: RollbackPhase, patch: Partial<Pick<RollbackJournalData, 'plan' | 'preTag' | 'pins' | 'pinNote' | 'declared' | 'cleared' | 'result'>> = {}): Promise<void> {
    this.guard();
    Object.assign(this.w.data, patch, { phase });
    await this.w.save();
    await pausePoint(`phase-${phase}`);
  }

  /** Records a container about to be replaced (written with the next step). */
  addSwap(s: Swap): void {
    this.w.data.swaps.push(swapRecord(s));
  }

  private sync(s: Swap | undefined): void {
    if (!s) return;
    const r = this.w.data.swaps.find((x) => x.oldId === s.oldId);
    if (!r) return;
    if (s.newName) r.newName = s.newName;
    if (s.newId) r.newId = s.newId;
  }

  private guard(): void {
    if (this.w.lost.aborted || this.lockLost?.aborted) throw new JournalLostError();
  }

  /** Runs one step, journaled before (with what it is about to touch) and after. */
  async step<T>(step: RollbackStep, target: { service?: string; swap?: Swap }, fn: () => Promise<T>): Promise<T> {
    this.guard();
    const { swap } = target;
    const where = { ...(target.service ?? swap?.service ? { service: target.service ?? swap?.service } : {}), ...(swap ? { container: swap.name } : {}) };
    this.sync(swap);
    await this.w.entry({ step, phase: 'begin', ...where });
    await pausePoint(`${step}:before`);
    let out: T;
    try {
      out = await fn();
    } catch (err) {
      this.sync(swap);
      await this.w.entry({ step, phase: 'failed', ...where, detail: (err as Error).message?.slice(0, 200) }).catch(() => undefined);
      throw err;
    }
    this.sync(swap);
    await this.w.entry({ step, phase: 'done', ...where });
    await pausePoint(`${step}:after`);
    return out;
  }

  /** Ends the journal: the operation is over and its result was sent. */
  async end(outcome: string): Promise<void> {
    this.w.data.outcome = outcome;
    await this.w.end();
  }

  /** Leaves the journal to a recoverer (the owner cannot finish it itself). */
  abandon(): void {
    this.w.abandon();
  }
}
