import type Docker from 'dockerode';
import type { FixOutcome } from '../../shared/contracts/doctor.ts';
import { mapLimit } from '../../shared/map-limit.ts';
import { engineCall, isNotFound } from './engine.ts';
import type { PlannedFix } from './run-checks.ts';

const ACTIONS: Record<PlannedFix['kind'], string> = {
  'remove-container': 'remove stopped orphan container',
  'remove-running-container': 'remove running orphan container',
  'remove-volume': 'remove orphan volume (deletes its data)',
};

/** The plan as a person reads it before anything happens. */
export function describePlan(fixes: readonly PlannedFix[]): string {
  if (!fixes.length) return 'Nothing for --fix to do.';
  const lines = [
    ...fixes.filter((f) => f.safe).map((f) => `will ${ACTIONS[f.kind]} ${f.target} (${f.command})`),
    ...fixes.filter((f) => !f.safe).map((f) => `needs approval, not done: ${ACTIONS[f.kind]} ${f.target} (${f.command})`),
  ];
  return lines.join('; ');
}

export interface ApplyOptions {
  readonly timeoutMs: number;
  /**
   * Also do the destructive fixes (running containers, volumes). Only for a run a second person
   * approved; the doctor job passes false until the approval gate hands it that proof.
   */
  readonly destructive: boolean;
  readonly signal?: AbortSignal;
}

async function apply(docker: Docker, f: PlannedFix, opts: ApplyOptions): Promise<FixOutcome['outcome'] | [FixOutcome['outcome'], string]> {
  const call = <T>(what: string, fn: (s: AbortSignal) => Promise<T>) => engineCall(what, opts.timeoutMs, opts.signal, fn);
  if (f.kind === 'remove-volume') {
    await call(`remove volume ${f.target}`, (s) => docker.getVolume(f.id).remove({ abortSignal: s }));
    return 'done';
  }
  const container = docker.getContainer(f.id);
  if (f.kind === 'remove-container') {
    // Checked again right before: a container that came back to life is no longer safe to remove.
    const now = await call(`inspect ${f.target}`, (s) => container.inspect({ abortSignal: s }));
    if (now.State.Running || now.State.Restarting) return ['skipped', 'it is running again; not removed'];
  }
  await call(`remove ${f.target}`, (s) => container.remove({ v: false, force: f.kind === 'remove-running-container', abortSignal: s }));
  return 'done';
}

/**
 * Applies the safe fixes (removing orphan containers that are stopped); the destructive ones only
 * with `destructive`, else they are listed as needing approval and left alone.
 */
export async function applyFixes(docker: Docker, fixes: readonly PlannedFix[], opts: ApplyOptions): Promise<FixOutcome[]> {
  return mapLimit(fixes, 4, async (f): Promise<FixOutcome> => {
    const base = { action: ACTIONS[f.kind], target: f.target, command: f.command };
    if (!f.safe && !opts.destructive) return { ...base, outcome: 'needs-approval', detail: 'destructive: needs a second person’s approval; nothing was changed' };
    try {
      const r = await apply(docker, f, opts);
      return Array.isArray(r) ? { ...base, outcome: r[0], detail: r[1] } : { ...base, outcome: r };
    } catch (err) {
      if (isNotFound(err)) return { ...base, outcome: 'skipped', detail: 'already gone' };
      return { ...base, outcome: 'failed', detail: (err as Error).message.split('\n')[0]?.slice(0, 200) };
    }
  });
}
