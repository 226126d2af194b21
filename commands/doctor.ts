import { defineCommand } from '../src/registry/define-command.ts';
import { CHECK_IDS, doctorArgs, doctorExitCode, type DoctorResult } from '../src/contracts/doctor.ts';
import { doctorSlack, doctorText } from '../src/doctor/render.ts';

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
  positionals: ['...checks'],
  args: doctorArgs,
  // `approvals.commands` lists doctor by default: only the destructive fixes need a second person.
  needsApproval: (args) => args.fix === 'all',
  approvalSummary: () => ['remove the orphaned running containers and orphaned volumes doctor finds (their data is lost)'],
  job: 'doctor',
  slack: (result: DoctorResult) => doctorSlack(result),
  text: (result: DoctorResult) => doctorText(result),
  exitCode: (result: DoctorResult) => doctorExitCode(result),
});
