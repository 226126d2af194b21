import { defineCommand } from '../src/shared/registry/define-command.ts';
import { CHECK_IDS, doctorArgs, doctorExitCode, type DoctorFixPlan, type DoctorResult } from '../src/shared/contracts/doctor.ts';

function isFixPlan(v: unknown): v is DoctorFixPlan {
  return typeof v === 'object' && v !== null && typeof (v as DoctorFixPlan).fingerprint === 'string' && Array.isArray((v as DoctorFixPlan).destructive);
}
import { doctorSlack, doctorText } from '../src/shared/render/doctor.ts';

export default defineCommand({
  kind: 'job',
  name: 'doctor',
  summary: 'Inspects the stack: orphans, exposed ports, secrets, password contract, networks, drift, health, hardening.',
  usage: 'doctor [check-id…] [--fix]',
  help: [
    `Runs every check, or the ones named (a check id or a family such as \`ports\`). Checks: ${CHECK_IDS.join(', ')}.`,
    'Each finding says why it matters, how to fix it and links its runbook. `--fix` removes orphaned *stopped* containers and lists what it does first; destructive fixes (volumes, running containers) need approval and are only listed. The CLI exits 1 when anything fails.',
  ].join('\n'),
  examples: ['doctor', 'doctor secret-files password-contract', 'doctor ports', 'doctor --fix'],
  role: 'viewer',
  // --fix changes the stack: refused up front for viewers, before any approval request is posted.
  roleFor: (args) => (args.fix ? 'operator' : 'viewer'),
  positionals: ['...checks'],
  args: doctorArgs,
  // `approvals.commands` lists doctor by default: only the destructive fixes need a second person.
  needsApproval: (args) => args.fix === 'all',
  approvalSummary: () => ['remove exactly the orphaned running containers and orphaned volumes listed below (their data is lost)'],
  // The approver sees the concrete list; the run refuses if the list changed in between.
  approvalPlan: {
    job: 'doctor-plan',
    args: (a) => (a.fix === 'all' ? (a.checks ? { checks: a.checks } : {}) : undefined),
    lines: (plan) => (isFixPlan(plan) ? (plan.destructive.length ? plan.destructive.map((d) => `${d.action} ${d.target} (\`${d.command}\`)`) : ['nothing destructive to do right now']) : ['(the worker returned no readable plan)']),
    pin: (plan): Record<string, unknown> => (isFixPlan(plan) ? { expectPlan: plan.fingerprint } : {}),
  },
  job: 'doctor',
  slack: (result: DoctorResult) => doctorSlack(result),
  text: (result: DoctorResult) => doctorText(result),
  exitCode: (result: DoctorResult) => doctorExitCode(result),
});
