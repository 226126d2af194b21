import { z } from 'zod';

/**
 * What `doctor` reports, shared by the worker (which finds it) and the bot (which renders it).
 * Findings cross Redis in clear text: they name variables, files and containers, never a value.
 */

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** `fail` for critical/high, `warn` for medium/low, `pass` for a check that found nothing. */
export type FindingStatus = 'fail' | 'warn' | 'pass';

/** What a finding is about; `stack` is for lines about the run itself (daemon down, empty stack). */
export type TargetKind = 'container' | 'volume' | 'file' | 'network' | 'stack';

/**
 * Runbooks (runbooks/<id>.md) findings link to. Crash loops, failing health checks and secret files
 * share the alert watcher's runbooks: one runbook per failure scenario, whoever finds it.
 */
export const RUNBOOKS = [
  'orphans', 'ports', 'secret-file', 'password-contract', 'networks', 'compose-drift', 'container-restarting',
  'health-check-failing', 'privileges', 'filesystem', 'resource-limits', 'resilience', 'logging', 'doctor',
] as const;
export type RunbookId = (typeof RUNBOOKS)[number];

/** Families group checks for selection (`doctor ports`) and for the report. */
export const FAMILIES = [
  'orphans', 'ports', 'secrets', 'networks', 'compose', 'health', 'privileges', 'filesystem', 'limits', 'resilience', 'logging',
] as const;
export type Family = (typeof FAMILIES)[number];

export interface CheckInfo {
  readonly id: string;
  readonly title: string;
  readonly family: Family;
  /** The runbook a finding links unless the check names a more specific one. */
  readonly runbook: RunbookId;
  readonly target: Exclude<TargetKind, 'stack'>;
  /** Where the rule comes from: the seeds' stack doctor, the hardening guide, CIS Docker Benchmark 5.x. */
  readonly source: string;
}

/**
 * The published list of checks, in report order. The bot validates `doctor <id>` against it; the
 * worker's implementations (src/features/doctor/checks/index.ts) are typed to cover exactly these ids.
 */
export const CHECKS = [
  { id: 'orphan-containers', title: 'Containers of services not in the compose files', family: 'orphans', runbook: 'orphans', target: 'container', source: 'stack doctor 1' },
  { id: 'orphan-volumes', title: 'Volumes of the project no compose file declares', family: 'orphans', runbook: 'orphans', target: 'volume', source: 'stack doctor 2' },
  { id: 'port-exposure', title: 'Ports published on all interfaces instead of 127.0.0.1', family: 'ports', runbook: 'ports', target: 'container', source: 'stack doctor 3, criterion B, CIS 5.13' },
  { id: 'port-conflicts', title: 'Host ports claimed twice', family: 'ports', runbook: 'ports', target: 'container', source: 'stack doctor 3' },
  { id: 'secret-files', title: 'Secret files: present, regular, non-empty, mode 0640 or tighter', family: 'secrets', runbook: 'secret-file', target: 'file', source: 'stack doctor 4' },
  { id: 'password-contract', title: 'Only *_FILE secrets; never both X and X_FILE; no plaintext secrets', family: 'secrets', runbook: 'password-contract', target: 'container', source: 'stack doctor 5, password contract' },
  { id: 'network-integrity', title: 'Expected networks exist; internal where production', family: 'networks', runbook: 'networks', target: 'network', source: 'stack doctor 6, criterion B' },
  { id: 'compose-drift', title: 'Running containers match the compose files', family: 'compose', runbook: 'compose-drift', target: 'container', source: 'stack doctor 7' },
  { id: 'container-health', title: 'Unhealthy, restarting, crashed or restart-looping containers', family: 'health', runbook: 'container-restarting', target: 'container', source: 'stack doctor 8' },
  { id: 'run-as-root', title: 'Containers running as root', family: 'privileges', runbook: 'privileges', target: 'container', source: 'hardening guide, CIS 4.1' },
  { id: 'privileged', title: 'Privileged containers', family: 'privileges', runbook: 'privileges', target: 'container', source: 'CIS 5.4' },
  { id: 'capabilities', title: 'Capabilities not dropped, dangerous cap_add', family: 'privileges', runbook: 'privileges', target: 'container', source: 'hardening guide, CIS 5.3' },
  { id: 'no-new-privileges', title: 'no-new-privileges not set', family: 'privileges', runbook: 'privileges', target: 'container', source: 'hardening guide, CIS 5.25' },
  { id: 'host-namespaces', title: 'Host network, PID, IPC or UTS namespace shared', family: 'privileges', runbook: 'privileges', target: 'container', source: 'CIS 5.9, 5.15, 5.16, 5.20' },
  { id: 'docker-socket', title: 'Docker socket mounted into a container', family: 'privileges', runbook: 'privileges', target: 'container', source: 'CIS 5.31' },
  { id: 'rootfs-writable', title: 'Root filesystem not read-only', family: 'filesystem', runbook: 'filesystem', target: 'container', source: 'hardening guide, CIS 5.12' },
  { id: 'memory-limit', title: 'No memory limit', family: 'limits', runbook: 'resource-limits', target: 'container', source: 'hardening guide, CIS 5.10' },
  { id: 'pids-limit', title: 'No PIDs limit', family: 'limits', runbook: 'resource-limits', target: 'container', source: 'CIS 5.28' },
  { id: 'healthcheck', title: 'No healthcheck', family: 'resilience', runbook: 'resilience', target: 'container', source: 'hardening guide, CIS 4.6, 5.26' },
  { id: 'restart-policy', title: 'No restart policy', family: 'resilience', runbook: 'resilience', target: 'container', source: 'CIS 5.14' },
  { id: 'log-limits', title: 'Container logs without size limits', family: 'logging', runbook: 'logging', target: 'container', source: 'hardening guide (logging)' },
] as const satisfies readonly CheckInfo[];

export type CheckId = (typeof CHECKS)[number]['id'];
export const CHECK_IDS: readonly CheckId[] = CHECKS.map((c) => c.id);

/** Lines about the run itself (not a check) carry this id and link the doctor runbook. */
export const RUN_CHECK = 'doctor';

export function checkInfo(id: string): CheckInfo | undefined {
  return (CHECKS as readonly CheckInfo[]).find((c) => c.id === id);
}

export function isCheckId(id: string): id is CheckId {
  return (CHECK_IDS as readonly string[]).includes(id);
}

export interface Finding {
  readonly check: CheckId | typeof RUN_CHECK;
  readonly status: FindingStatus;
  readonly severity: Severity;
  readonly target: TargetKind;
  /** The container, volume, file or network; empty on pass lines. */
  readonly name: string;
  /** The compose service, when the finding is about a service's container. */
  readonly service?: string;
  readonly detail: string;
  /** What was seen, e.g. `HostConfig.Privileged=true`. Never a secret value. */
  readonly evidence?: string;
  /** A copy-paste fix or the compose change to make. */
  readonly fix?: string;
  readonly runbook: RunbookId;
  /** `safe`: `doctor --fix` does it; `approval`: destructive, needs a second person. */
  readonly fixable?: 'safe' | 'approval';
}

export interface FixOutcome {
  readonly action: string;
  readonly target: string;
  readonly command: string;
  readonly outcome: 'done' | 'failed' | 'skipped' | 'needs-approval';
  readonly detail?: string;
}

export interface DoctorResult {
  readonly project: string;
  readonly checkedAt: string;
  readonly durationMs: number;
  /** The checks that ran. */
  readonly checks: readonly CheckId[];
  readonly counts: { readonly containers: number; readonly volumes: number; readonly networks: number; readonly files: number };
  readonly findings: readonly Finding[];
  /** Present when `--fix` was given: what was planned and what happened. */
  readonly fixes?: readonly FixOutcome[];
  /** `doctor.runbookBaseUrl`: where runbooks/<id>.md can be opened. */
  readonly runbookBaseUrl?: string;
}

export function statusFor(severity: Severity): FindingStatus {
  if (severity === 'critical' || severity === 'high') return 'fail';
  if (severity === 'info') return 'pass';
  return 'warn';
}

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** Exit code contract: 0 when nothing fails, 1 otherwise. */
export function doctorExitCode(result: Pick<DoctorResult, 'findings'>): number {
  return result.findings.some((f) => f.status === 'fail') ? 1 : 0;
}

/** `doctor ports` runs every check of the ports family; `doctor port-exposure` just that one. */
export function expandSelection(words: readonly string[]): CheckId[] {
  const picked = new Set<CheckId>();
  for (const w of words) {
    for (const c of CHECKS) if (c.id === w || c.family === w) picked.add(c.id);
  }
  return CHECK_IDS.filter((id) => picked.has(id));
}

/** Check ids (or family names) as typed by a user; unknown ones are refused with the known list. */
export const checkSelection = z
  .array(z.string().max(40))
  .max(30)
  .superRefine((words, ctx) => {
    for (const w of words) {
      if (!isCheckId(w) && !(FAMILIES as readonly string[]).includes(w)) {
        ctx.addIssue({ code: 'custom', message: `unknown check id ${w.slice(0, 40)}; known: ${CHECK_IDS.join(', ')} (or a family: ${FAMILIES.join(', ')})` });
        return;
      }
    }
  });

/** `--fix` does the safe fixes; `--fix=all` would include destructive ones, which need approval. */
export const fixOption = z.union([z.literal(true), z.enum(['safe', 'all'])]);

export const doctorArgs = z
  .object({
    checks: checkSelection.optional(),
    fix: fixOption.optional(),
    /**
     * Pinned by the approval flow for `--fix=all`: the fingerprint of the destructive fixes the
     * approver saw. The run refuses when what it would remove is no longer exactly that.
     */
    expectPlan: z.string().regex(/^[a-f0-9]{16}$/, 'a plan fingerprint (16 hex digits)').optional(),
  })
  .strict();
export type DoctorArgs = z.infer<typeof doctorArgs>;

/** What `doctor --fix=all` would destroy, for the approval request (the `doctor-plan` job). */
export interface DoctorFixPlan {
  readonly project: string;
  readonly destructive: readonly { readonly action: string; readonly target: string; readonly command: string }[];
  readonly fingerprint: string;
}
