import { defineCommand } from '../src/shared/registry/define-command.ts';
import { rotationFingerprint, type RotationPlan, type RotationResultView } from '../src/shared/contracts/rotation.ts';
import { isWireguardArgs, rotateCommandArgs, type WgRotationResult } from '../src/shared/contracts/wireguard.ts';
import { wgApprovalSummary, wgSlack, wgText } from '../src/shared/render/wireguard.ts';
import { capBlocks, context, esc, header, section, type Block } from '../src/shared/render/blocks.ts';
import { textTable } from '../src/shared/render/table.ts';

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function isRotationPlan(value: unknown): value is RotationPlan {
  const p = value as Partial<RotationPlan> | null;
  return typeof p === 'object' && p !== null && typeof p.secret === 'string' && Array.isArray(p.steps) && Array.isArray(p.restarts) && rotationFingerprint.safeParse(p.fingerprint).success;
}

export function rotationPlanLines(p: RotationPlan): string[] {
  const what = p.mode === 'setup' ? 'First-time setup' : p.mode === 'finish' ? 'End of the _old window' : 'Rotation';
  return [
    `${what} of ${p.secret} (${p.kind}, ${p.file}). Expected downtime: ${secs(p.expectedDowntimeMs)}.`,
    ...p.steps.map((s, i) => `${i + 1}. ${s}`),
    p.restarts.length ? `Restarted one at a time, in this order: ${p.restarts.join(' → ')}` : 'No consumer is restarted (they read the file on each use).',
    ...(p.consumers.length ? [`Consumers checked: ${p.consumers.join(', ')}`] : []),
    ...(p.dryRun ?? []),
    ...p.warnings.map((w) => `Note: ${w}`),
    `Plan ${p.fingerprint}. The new value is generated on the worker and never shown; a failed test step restores the previous one.`,
  ];
}

function verdict(r: RotationResultView): string {
  const what = r.mode === 'setup' ? 'Setup' : r.mode === 'finish' ? 'End of the _old window' : 'Rotation';
  const down = r.probes.length ? ` Measured downtime: ${r.probes.map((p) => `${p.service} ${p.downtimeMs} ms`).join(', ')}.` : '';
  const resumed = r.resumed ? ' (resumed by another worker)' : '';
  if (r.status === 'succeeded') return `${what} of ${r.secret} done in ${secs(r.totalMs)}${resumed}.${down}`;
  if (r.status === 'rolled-back') return `${what} of ${r.secret} failed (${r.error ?? 'a step failed'}) and was ROLLED BACK to the previous value${resumed}.${down}`;
  return `${what} of ${r.secret} FAILED${resumed}: ${r.error ?? 'see the notes'}. Manual action needed (runbooks/secret-rotation.md).${down}`;
}

function stepsTable(r: RotationResultView): string {
  const steps = textTable(['STEP', 'TIME'], r.steps.map((s) => [s.name, secs(s.ms)]));
  const probes = r.probes.length ? `\n\n${textTable(['CONSUMER', 'PROBES', 'FAILED', 'DOWNTIME'], r.probes.map((p) => [p.service, String(p.probes), String(p.failures), `${p.downtimeMs} ms`]))}` : '';
  return steps + probes;
}

export default defineCommand({
  kind: 'job',
  name: 'rotate',
  summary: 'Rotates a secret with zero downtime (step machine, resumable); `--finish` ends an API key’s _old window, `--setup` prepares a database’s second user; `rotate wireguard <tunnel>` rotates a WireGuard tunnel’s keys on both its hosts.',
  usage: 'rotate <secret> [--finish|--setup] | rotate wireguard <tunnel>',
  help: 'Generates the new value on the worker, rolls it out (Redis ACL overlap, dual API keys, alternating database users, rolling restarts) as create-pending → set → test → finish, journaled in Redis so a worker killed at any step is resumed or rolled back by the next. A probe per consumer measures downtime every 100 ms. Values never appear in chat, Redis or logs. See runbooks/secret-rotation.md. `rotate wireguard <tunnel>`: a new private key on each host (wg genkey; private keys never leave their host), a new preshared key carried host to host over SSH only, both interfaces switched at once and verified by a fresh handshake and traffic through the tunnel, else the old keys restored on both sides (runbooks/wireguard-rotation.md).',
  examples: ['rotate redis_password', 'rotate internal_api_key --finish', 'rotate db_password --setup', 'rotate wireguard web-services'],
  role: 'operator',
  approval: true,
  positionals: ['secret', 'tunnel'],
  args: rotateCommandArgs,
  // `wireguard` is no secret name (config validation refuses it): it picks the WireGuard job.
  jobFor: (a) => (isWireguardArgs(a) ? 'rotate-wireguard' : 'rotate'),
  otherJobs: ['rotate-wireguard'],
  approvalSummary(a) {
    if (isWireguardArgs(a)) return [wgApprovalSummary(a.tunnel)];
    return [`${a.setup ? 'First-time setup for' : a.finish ? 'End of the _old window of' : 'Rotation of'} secret ${a.secret}. The value is generated on the worker and never shown.`];
  },
  approvalPlan: {
    job: 'rotate-plan',
    args: (a) => (isWireguardArgs(a) ? undefined : { secret: a.secret, ...(a.setup ? { setup: true } : {}), ...(a.finish ? { finish: true } : {}) }),
    lines: (result) => (isRotationPlan(result) ? rotationPlanLines(result) : ['(the worker returned no readable plan)']),
    pin: (result): Record<string, unknown> => (isRotationPlan(result) ? { expectPlan: result.fingerprint } : {}),
  },
  job: 'rotate',
  slack(r: RotationResultView | WgRotationResult, a) {
    if (isWireguardArgs(a)) return wgSlack(r as WgRotationResult);
    const icon = r.status === 'succeeded' ? ':white_check_mark:' : ':rotating_light:';
    const blocks: Block[] = [header(`Secret rotation · ${r.secret}`), section(`${icon} ${esc(verdict(r))}`), section(`\`\`\`${esc(stepsTable(r))}\`\`\``)];
    if (r.notes.length) blocks.push(context(esc(r.notes.join(' '))));
    return { text: verdict(r), blocks: capBlocks(blocks, (n) => `…and ${n} more.`) };
  },
  text(r: RotationResultView | WgRotationResult, a) {
    if (isWireguardArgs(a)) return wgText(r as WgRotationResult);
    return [verdict(r), stepsTable(r), ...r.notes].join('\n\n');
  },
  exitCode(r: RotationResultView | WgRotationResult) {
    return r.status === 'succeeded' ? 0 : 1;
  },
});
