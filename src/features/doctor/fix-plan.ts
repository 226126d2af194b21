import { createHash } from 'node:crypto';
import type { DoctorFixPlan } from '../../shared/contracts/doctor.ts';
import type { PlannedFix } from './run-checks.ts';

/**
 * The destructive part of a `--fix` plan and its fingerprint: what an approver is shown and what
 * the approved run must still find, so approving "remove orphans" never removes something else.
 */
export function destructivePlan(project: string, fixes: readonly PlannedFix[]): DoctorFixPlan {
  const destructive = fixes
    .filter((f) => !f.safe)
    .map((f) => ({ action: f.kind, target: f.target, command: f.command, id: f.id }))
    .sort((a, b) => a.action.localeCompare(b.action) || a.id.localeCompare(b.id));
  const fingerprint = createHash('sha256').update(JSON.stringify(destructive.map((d) => [d.action, d.id]))).digest('hex').slice(0, 16);
  return { project, destructive: destructive.map(({ action, target, command }) => ({ action, target, command })), fingerprint };
}
