import { defineCommand } from '../src/shared/registry/define-command.ts';
import { cleanArgs, describeItem, itemKey, type CleanPlan, type CleanResult } from '../src/shared/clean/contract.ts';
import { cleanSlack, cleanText } from '../src/shared/clean/render.ts';

function isPlan(v: unknown): v is CleanPlan {
  return typeof v === 'object' && v !== null && Array.isArray((v as CleanPlan).items) && Array.isArray((v as CleanPlan).protectedVolumes);
}

export default defineCommand({
  kind: 'job',
  name: 'clean',
  summary: 'Frees disk space the project left behind: stopped orphan containers, dangling images (--deep: unused volumes and images).',
  usage: 'clean [--dry-run] [--deep]',
  help: [
    '`clean` removes stopped containers of the project that compose no longer declares and dangling images the project left; the reply lists every object with its size, then the bytes reclaimed. `--dry-run` only lists.',
    '`--deep` also removes volumes of the project no container mounts and unused images of the project. It needs a second person: the request lists every object and its size, and the run removes exactly that list. Volumes in `clean.protect` are never removed. Objects of other projects are never touched.',
  ].join('\n'),
  examples: ['clean --dry-run', 'clean', 'clean --deep --dry-run', 'clean --deep'],
  role: 'operator',
  args: cleanArgs,
  // `approvals.commands` lists clean by default; only a real deep clean needs the second person.
  needsApproval: (args) => args.deep === true && args.dryRun !== true,
  approvalSummary: () => ['remove exactly the objects listed below (volume data is lost); volumes in clean.protect are kept'],
  approvalPlan: {
    job: 'clean-plan',
    args: (a) => (a.deep && !a.dryRun ? { deep: true } : undefined),
    lines: (plan) => {
      if (!isPlan(plan)) return ['(the worker returned no readable plan)'];
      const lines = plan.items.length ? plan.items.map((i) => `${describeItem(i)}`) : ['nothing to remove right now'];
      return [...lines, ...plan.protectedVolumes.map((v) => `kept (clean.protect): volume ${v}`)];
    },
    // The exact objects, not a count or a pattern: whatever appears after approval is not in it.
    pin: (plan): Record<string, unknown> => (isPlan(plan) ? { approved: plan.items.map(itemKey) } : {}),
  },
  job: 'clean',
  slack: (result: CleanResult) => cleanSlack(result),
  text: (result: CleanResult) => cleanText(result),
  exitCode: (result: CleanResult) => (result.items.some((i) => i.status === 'skipped') ? 1 : 0),
});
