import type { Config } from '../config/schema.ts';
import { runsJob, type AnyCommand } from '../registry/define-command.ts';
import type { Registry } from '../registry/registry.ts';

type ApprovalConfig = Pick<Config, 'approvals'>;

/**
 * Whether running `command` with these (validated) arguments needs a second person. The command's
 * own `approval` flag is a floor the config cannot lower; `approvals.commands` adds to it.
 * `needsApproval(args)` narrows to the risky argument combinations; if it throws, approval is needed.
 */
export function needsApproval(command: AnyCommand, args: Record<string, unknown>, config: ApprovalConfig): boolean {
  if (command.kind !== 'job') return false;
  const listed = command.approval === true || config.approvals.commands.includes(command.name);
  if (!listed) return false;
  if (!command.needsApproval) return true;
  try {
    return command.needsApproval(args) !== false;
  } catch {
    return true;
  }
}

export interface ApprovalSettings {
  /** Approvers needed besides the requester. */
  readonly required: number;
  readonly expiryMs: number;
}

export function approvalSettings(commandName: string, config: ApprovalConfig): ApprovalSettings {
  const rule = config.approvals.overrides[commandName];
  const minutes = rule?.expiryMinutes ?? config.approvals.expiryMinutes;
  return { required: rule?.required ?? config.approvals.required, expiryMs: Math.round(minutes * 60_000) };
}

/**
 * The worker's view: does this job need an approved request? Yes if the named command or any command
 * that enqueues this job would need one for these args (a forged envelope cannot dodge the gate by
 * naming a harmless command), or if a listed name is unknown to this registry (fail closed).
 */
export function jobNeedsApproval(registry: Registry, config: ApprovalConfig, commandName: string, jobName: string, args: Record<string, unknown>): boolean {
  const listed = config.approvals.commands;
  const commands = [...registry.values()].filter((c) => c.kind === 'job');
  const viaJob = commands.filter((c) => runsJob(c, jobName));
  const viaName = commands.find((c) => c.name === commandName);
  if (!viaJob.length && listed.includes(jobName)) return true;
  if (!viaName && listed.includes(commandName)) return true;
  for (const command of new Set([...viaJob, ...(viaName ? [viaName] : [])])) {
    const parsed = command.args.safeParse(args);
    if (!parsed.success) {
      if (command.approval === true || listed.includes(command.name)) return true;
    } else if (needsApproval(command, parsed.data as Record<string, unknown>, config)) {
      return true;
    }
  }
  return false;
}
