import { defineCommand } from '../src/shared/registry/define-command.ts';
import { restoreArgs, restorePlanFingerprint, type RestorePlan, type RestoreResult } from '../src/shared/contracts/backup.ts';
import { context, esc, header, section, type Block } from '../src/shared/render/blocks.ts';
import { textTable } from '../src/shared/render/table.ts';
import { age, bytes } from '../src/shared/render/backup-report.ts';

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The plan job's result, as far as the bot trusts it (it crossed Redis). */
export function isRestorePlan(value: unknown): value is RestorePlan {
  const p = value as Partial<RestorePlan> | null;
  return typeof p === 'object' && p !== null && Array.isArray(p.items) && Array.isArray(p.stops) && typeof p.backup === 'string' && restorePlanFingerprint.safeParse(p.fingerprint).success;
}

/** Exactly what will be replaced, for the approval request. */
export function restorePlanLines(p: RestorePlan): string[] {
  return [
    `Restore of ${p.project} from ${p.backup}${p.requested === 'latest' ? ' (latest)' : ''}, taken ${p.backupCreatedAt.slice(0, 16).replace('T', ' ')} UTC (${age(p.ageMs)} ago); every sha256 checked: ${p.checksums}; ${p.encrypted ? 'encrypted (the key was not needed to check)' : 'not encrypted'}.`,
    ...p.items.map((i) => `REPLACES ${i.component} (${i.kind}${i.service ? `, service ${i.service}` : ''}): ${i.kind === 'volume' ? `volume ${i.targets.join(', ')}` : i.kind === 'redis' ? 'the whole Redis dataset' : `database${i.targets.length > 1 ? 's' : ''} ${i.targets.join(', ')}`} · ${bytes(i.bytes)}`),
    `Stopped meanwhile: ${p.stops.length ? p.stops.join(', ') : 'nothing'}.`,
    `Plan ${p.fingerprint}. A safety backup of what is replaced is taken first; any failure puts it back automatically.`,
  ];
}

function verdict(r: RestoreResult): string {
  if (r.ok) return `Restored ${r.project} from ${r.backup}: recovery time ${secs(r.recoveryMs)} (verification ${secs(r.verifyMs)}, total ${secs(r.totalMs)}). Counts match the manifest.`;
  if (r.outcome === 'reverted') return `The restore from ${r.backup} failed and was undone: the stack is back on the state before (safety backup ${r.safetyBackup ?? '-'}). ${r.error ?? ''}`;
  return `The restore from ${r.backup} failed and could NOT be fully undone: ${r.error ?? ''} See runbooks/disaster-recovery.md; the safety backup is ${r.safetyBackup ?? 'missing'}.`;
}

function table(r: RestoreResult): string {
  return textTable(['COMPONENT', 'KIND', 'RESULT', 'TIME', 'DETAIL'], r.components.map((c) => [c.component, c.kind, c.ok ? 'ok' : 'FAILED', secs(c.ms), c.detail]));
}

export default defineCommand({
  kind: 'job',
  name: 'restore',
  summary: 'Restores a backup (or some components of it) over the stack, after a second person approves.',
  usage: 'restore <backup|latest> [component…]',
  help: 'The approval request shows exactly what will be replaced. After approval every artifact is verified (sha256, decrypt test) before anything is touched, a safety backup is taken, dependent services are stopped, the data is restored and checked against the manifest, services are started and must be healthy. Any failure restores the safety backup. See runbooks/disaster-recovery.md.',
  examples: ['restore latest', 'restore backup-20251224-150000 db'],
  role: 'operator',
  approval: true,
  approvalSummary(args) {
    return [`Restore from ${args.backup}${args.components ? ` of ${args.components.join(', ')}` : ' of every component in the backup'}: replaces live data. A safety backup is taken first and put back automatically on any failure.`];
  },
  approvalPlan: {
    job: 'restore-plan',
    args: (a) => ({ backup: a.backup, ...(a.components ? { components: a.components } : {}) }),
    lines: (result) => (isRestorePlan(result) ? restorePlanLines(result) : ['(the worker returned no readable plan)']),
    // The run restores exactly the backup the approver saw (latest resolved) and refuses if anything moved.
    pin: (result): Record<string, unknown> => (isRestorePlan(result) ? { backup: result.backup, expectPlan: result.fingerprint } : {}),
  },
  positionals: ['backup', '...components'],
  args: restoreArgs,
  job: 'restore',
  slack(r: RestoreResult) {
    const blocks: Block[] = [header(`Restore · ${r.project} ← ${r.backup}`), section(`${r.ok ? ':white_check_mark:' : ':rotating_light:'} ${esc(verdict(r))}`)];
    if (r.components.length) blocks.push(section(`\`\`\`${esc(table(r))}\`\`\``));
    blocks.push(context(esc(`Stopped and started again: ${r.stopped.join(', ') || 'nothing'} · safety backup ${r.safetyBackup ?? '-'}`)));
    return { text: verdict(r), blocks };
  },
  text(r: RestoreResult) {
    return `${verdict(r)}\n\n${table(r)}\n\nStopped and started again: ${r.stopped.join(', ') || 'nothing'}; safety backup ${r.safetyBackup ?? '-'}`;
  },
  exitCode(r: RestoreResult) {
    return r.ok ? 0 : 1;
  },
});
