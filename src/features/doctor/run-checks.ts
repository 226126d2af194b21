import { checkInfo, severityRank, statusFor, type CheckId, type Finding } from '../../shared/contracts/doctor.ts';
import type { Collected } from './collect.ts';
import type { Check, Issue, Snapshot } from './types.ts';

/** A fix `--fix` may apply (safe) or must leave for an approver; tied to the finding it resolves. */
export interface PlannedFix {
  readonly kind: NonNullable<Issue['autofix']>['kind'];
  readonly id: string;
  readonly target: string;
  readonly safe: boolean;
  readonly command: string;
}

export interface CheckRun {
  readonly findings: Finding[];
  readonly fixes: PlannedFix[];
}

function waiversFor(snap: Snapshot, id: CheckId): Set<string> {
  const listed = snap.doctor.waivers[id] ?? [];
  return new Set(id === 'docker-socket' ? [...listed, ...snap.doctor.allowDockerSocket] : listed);
}

function planFix(issue: Issue): PlannedFix | undefined {
  const a = issue.autofix;
  if (!a) return undefined;
  if (a.kind === 'remove-container') return { kind: a.kind, id: a.id, target: issue.name, safe: true, command: `docker rm ${issue.name}` };
  if (a.kind === 'remove-running-container') return { kind: a.kind, id: a.id, target: issue.name, safe: false, command: `docker rm -f ${issue.name}` };
  return { kind: a.kind, id: a.id, target: issue.name, safe: false, command: `docker volume rm ${issue.name}` };
}

function defaultPass(snap: Snapshot, target: string): string {
  if (target === 'volume') return `${snap.volumes.length} volumes checked`;
  if (target === 'file') return `${snap.files.size} files checked`;
  if (target === 'network') return `${snap.networks.length} networks checked`;
  return `${snap.containers.length} containers checked`;
}

/**
 * Runs the selected checks on one snapshot. Every check yields at least one line: its problems, a
 * pass line (naming what was waived), "not checked" when its data could not be fetched, or the
 * check's own failure: a broken rule never looks like a pass and never stops the others.
 */
export function runChecks(checks: readonly Check[], collected: Collected): CheckRun {
  const { snapshot: snap, missing } = collected;
  const findings: Finding[] = [...collected.notes];
  const fixes: PlannedFix[] = [];
  for (const check of checks) {
    const info = checkInfo(check.id);
    if (!info) continue;
    const base = { check: check.id, runbook: info.runbook } as const;
    const gap = (check.needs ?? []).find((n) => missing.has(n));
    if (gap) {
      findings.push({ ...base, status: 'warn', severity: 'medium', target: 'stack', name: '', detail: `not checked: ${missing.get(gap)}` });
      continue;
    }
    let issues: Issue[];
    try {
      issues = check.run(snap);
    } catch (err) {
      findings.push({ ...base, status: 'fail', severity: 'high', target: 'stack', name: '', detail: `the check itself failed: ${(err as Error).message.slice(0, 200)}` });
      continue;
    }
    const waivers = waiversFor(snap, check.id);
    const waived: string[] = [];
    let reported = 0;
    for (const issue of issues) {
      if ((issue.service && waivers.has(issue.service)) || waivers.has(issue.name)) {
        waived.push(issue.service ?? issue.name);
        continue;
      }
      const fix = planFix(issue);
      if (fix) fixes.push(fix);
      reported++;
      findings.push({
        ...base,
        status: statusFor(issue.severity),
        severity: issue.severity,
        target: issue.target ?? info.target,
        name: issue.name,
        service: issue.service,
        detail: issue.detail,
        evidence: issue.evidence,
        fix: issue.fix,
        fixable: fix ? (fix.safe ? 'safe' : 'approval') : undefined,
        runbook: issue.runbook ?? info.runbook,
      });
    }
    if (!reported) {
      const note = waived.length ? `; waived: ${[...new Set(waived)].join(', ')}` : '';
      findings.push({ ...base, status: 'pass', severity: 'info', target: info.target, name: '', detail: `${check.passDetail?.(snap) ?? defaultPass(snap, info.target)}${note}` });
    }
  }
  return { findings: sortFindings(findings, checks.map((c) => c.id)), fixes };
}

/** Worst first; within a severity, in check order, then by name. */
export function sortFindings(findings: readonly Finding[], order: readonly string[]): Finding[] {
  const pos = (id: string) => (order.includes(id) ? order.indexOf(id) : -1);
  return [...findings].sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || pos(a.check) - pos(b.check) || a.name.localeCompare(b.name));
}
