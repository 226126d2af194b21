import { defineCommand } from '../src/shared/registry/define-command.ts';
import { planFingerprint, rollbackArgs, type ClearResult, type PlanItem, type RollbackAttempt, type RollbackJobResult, type RollbackPlan, type RollbackRecovery, type RollbackResult } from '../src/shared/contracts/rollback.ts';
import { capBlocks, context, esc, header, section, type Block } from '../src/shared/render/blocks.ts';
import { textTable } from '../src/shared/render/table.ts';

const short = (id: string | undefined) => (id ? id.replace(/^sha256:/, '').slice(0, 12) : '-');
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function itemLine(i: PlanItem): string {
  if (i.action === 'recreate') return `${i.service}: ${short(i.currentImage)} → ${short(i.targetImage)}${i.reason ? ` (${i.reason})` : ''}`;
  if (i.action === 'unchanged') return `${i.service}: ${short(i.targetImage)} already runs, skipped`;
  return `${i.service}: skipped (${i.reason ?? 'no container'})`;
}

/** The plan as plain lines: for the approval request (call the read-only `rollback-plan` job for it). */
export function planLines(plan: RollbackPlan): string[] {
  const changing = plan.items.filter((i) => i.action === 'recreate').length;
  return [
    `Rollback of ${plan.project} to ${plan.tag}${plan.requested === 'latest' ? ' (latest)' : ''}, tagged ${plan.taggedAt.slice(0, 16).replace('T', ' ')} UTC by ${plan.taggedBy}: ${changing} of ${plan.items.length} services change.`,
    ...plan.items.map(itemLine),
    ...(plan.order.length > 1 ? [`Order: ${plan.order.map((w) => w.join(' + ')).join(' → ')}`] : []),
    `Plan ${plan.fingerprint}. The current state is tagged pre-rollback-… first; a failed health check restores it automatically.`,
  ];
}

/** The plan job's result, as far as the bot trusts it (it crossed Redis). */
export function isPlan(value: unknown): value is RollbackPlan {
  const p = value as Partial<RollbackPlan> | null;
  return typeof p === 'object' && p !== null && Array.isArray(p.items) && Array.isArray(p.order) && typeof p.tag === 'string' && planFingerprint.safeParse(p.fingerprint).success;
}

export function planBlocks(plan: RollbackPlan): Block[] {
  const [head = '', ...rest] = planLines(plan);
  return [section(esc(head)), section(`\`\`\`${esc(rest.slice(0, -1).join('\n'))}\`\`\``), context(esc(rest.at(-1) ?? ''))];
}

function attemptTable(a: RollbackAttempt): string {
  return textTable(['SERVICE', 'FROM', 'TO', 'RESULT', 'TIME'], a.services.map((s) => [s.service, s.fromImage, s.toImage, s.detail ? `${s.outcome}: ${s.detail}` : s.outcome, secs(s.ms)]));
}

/** After a crash: what the first worker was doing, what the recovering one did. */
function recoveryVerdict(r: RollbackResult, rec: RollbackRecovery): string {
  const head = `The worker running this rollback stopped ${rec.interruptedAt}; worker ${rec.by} took over:`;
  switch (rec.outcome) {
    case 'finished':
      return `${head} the rollback to ${r.tag} had succeeded, so it finished it (${r.overlay.written ? 'pinned' : 'not pinned'}).`;
    case 'reverted':
      return `${head} the rollback to ${r.tag} was not complete, so it restored the previous containers. Nothing was pinned.`;
    case 'nothing-changed':
      return `${head} nothing had been changed yet, and nothing was. Request the rollback again if it is still wanted.`;
    case 'partial':
      return `${head} it could NOT restore every service (marked failed below): check them with /cdb status.`;
  }
}

function servingLines(rec: RollbackRecovery): string[] {
  return [
    ...rec.services.map((s) => `${s.service}: ${s.outcome}${s.detail ? ` (${s.detail})` : ''}`),
    'Serving now:',
    ...rec.serving.map((s) => `  ${s.service}: ${s.container} on ${s.image} (${s.ref}), ${s.state}`),
    ...(rec.removed.length ? [`Removed leftovers: ${rec.removed.join(', ')}`] : []),
  ];
}

function verdict(r: RollbackResult): string {
  if (r.recovery) return recoveryVerdict(r, r.recovery);
  const within = r.totalMs <= r.targetMs ? 'within' : 'OVER';
  if (!r.attempts.length) return `Nothing to recreate: every service already runs ${r.tag}.${r.overlay.written ? ' Pinned.' : ''}`;
  if (r.ok) return `Rolled back to ${r.tag} in ${secs(r.totalMs)} (${within} the ${r.targetMs / 1000} s target).`;
  const reverted = r.attempts[1]?.ok ? `restored ${r.preRollbackTag ?? 'the previous state'}` : `could NOT fully restore ${r.preRollbackTag ?? 'the previous state'}: check the services marked failed`;
  return `Rollback to ${r.tag} failed a health check and was undone automatically: ${reverted}. Total ${secs(r.totalMs)}.`;
}

function overlayLine(r: RollbackResult): string {
  if (r.overlay.written) return `Pinned in ${r.overlay.path ?? 'the overlay'} (undo: /cdb rollback ${r.preRollbackTag ?? '<pre-rollback tag>'}; unpin: /cdb rollback --clear).`;
  return `Not pinned: ${r.overlay.note ?? 'no overlay'}.`;
}

function clearText(r: ClearResult): string {
  if (!r.removed) return `Nothing to clear: ${r.overlayPath} does not exist.`;
  const pins = Object.entries(r.pins).map(([s, ref]) => `${s} (${ref.slice(ref.lastIndexOf(':') + 1)})`).join(', ');
  return `Removed ${r.overlayPath}${pins ? `, which pinned ${pins}` : ''}. Containers keep running their images until the next deploy.`;
}

export default defineCommand({
  kind: 'job',
  name: 'rollback',
  summary: 'Rolls the stack (or some services) back to a tag; `--clear` removes the pin.',
  usage: 'rollback <tag|latest> [service…] | rollback --clear',
  help: 'Recreates each service whose image differs from the tag, keeping its configuration, dependencies first and the rest in parallel, and waits for health. The current state is tagged pre-rollback-… first, and a failed health check undoes everything automatically. The result is pinned in rollback.yml next to the compose files; `--clear` removes it. See runbooks/rollback.md.',
  examples: ['rollback latest', 'rollback rollback-20251224-153000 web worker', 'rollback --clear'],
  role: 'operator',
  approval: true,
  approvalSummary(args) {
    if (args.clear) return ['Removes the pin (rollback.yml next to the compose files). Running containers are not touched; the next deploy replaces the rolled-back images.'];
    return [`Rollback to ${args.tag ?? 'latest'}${args.services ? ` of ${args.services.join(', ')}` : ' of every service in the tag'}. The current state is tagged pre-rollback-… first; a failed health check restores it automatically.`];
  },
  // The approver sees the exact plan, and the run refuses if the stack changed after they looked.
  approvalPlan: {
    job: 'rollback-plan',
    args: (a) => (a.clear || !a.tag ? undefined : { tag: a.tag, ...(a.services ? { services: a.services } : {}) }),
    lines: (result) => (isPlan(result) ? planLines(result) : ['(the worker returned no readable plan)']),
    pin: (result): Record<string, unknown> => (isPlan(result) ? { expectPlan: result.fingerprint } : {}),
  },
  positionals: ['tag', '...services'],
  args: rollbackArgs,
  job: 'rollback',
  slack(result: RollbackJobResult) {
    if (result.mode === 'clear') return { text: clearText(result), blocks: [section(`:pushpin: ${esc(clearText(result))}`)] };
    const icon = result.ok ? ':white_check_mark:' : ':rotating_light:';
    const blocks: Block[] = [header(`Rollback · ${result.project} → ${result.tag}`), section(`${icon} ${esc(verdict(result))}`)];
    if (result.recovery) blocks.push(section(`\`\`\`${esc(servingLines(result.recovery).join('\n'))}\`\`\``));
    for (const a of result.attempts) {
      blocks.push(section(`*${a.kind === 'rollback' ? 'Rollback' : 'Restore'}* (${secs(a.ms)}, ${a.ok ? 'ok' : 'failed'})\n\`\`\`${esc(attemptTable(a))}\`\`\``));
    }
    const skipped = result.plan.items.filter((i) => i.action !== 'recreate');
    if (skipped.length) blocks.push(context(esc(`Skipped: ${skipped.map(itemLine).join('; ')}`)));
    blocks.push(context(esc(`${overlayLine(result)} Plan ${result.plan.fingerprint}.`)));
    return { text: verdict(result), blocks: capBlocks(blocks, (n) => `…and ${n} more.`) };
  },
  text(result: RollbackJobResult) {
    if (result.mode === 'clear') return clearText(result);
    const parts = [verdict(result)];
    if (result.recovery) parts.push(servingLines(result.recovery).join('\n'));
    for (const a of result.attempts) parts.push(`${a.kind === 'rollback' ? 'Rollback' : 'Restore'} (${secs(a.ms)}, ${a.ok ? 'ok' : 'failed'}):\n${attemptTable(a)}`);
    parts.push(overlayLine(result));
    return parts.join('\n\n');
  },
  exitCode(result: RollbackJobResult) {
    return result.mode === 'clear' || result.ok ? 0 : 1;
  },
});
