import type { SlackMessage } from '../registry/define-command.ts';
import { describeItem, formatBytes, type CleanOutcome, type CleanResult } from './contract.ts';

const MARK: Record<CleanOutcome['status'], string> = { removed: '✓ removed', planned: '· would remove', skipped: '✗ skipped' };

function lines(r: CleanResult): string[] {
  const out: string[] = [];
  const what = r.deep ? 'deep clean' : 'clean';
  if (!r.items.length) out.push(`Nothing to ${what} in ${r.project}.`);
  else if (r.dryRun) out.push(`Dry run of the ${what} of ${r.project}: ${r.items.length} object(s), ${formatBytes(r.items.reduce((s, i) => s + i.bytes, 0))} would be reclaimed. Nothing was removed.`);
  else out.push(`${what[0]!.toUpperCase()}${what.slice(1)} of ${r.project}: ${r.items.filter((i) => i.status === 'removed').length} of ${r.items.length} object(s) removed, ${formatBytes(r.reclaimedBytes)} reclaimed.`);
  for (const i of r.items) out.push(`${MARK[i.status]}  ${describeItem(i)}${i.detail ? ` (${i.detail})` : ''}`);
  for (const i of r.notApproved) out.push(`· left alone (appeared after approval)  ${describeItem(i)}`);
  for (const v of r.protectedVolumes) out.push(`· kept (clean.protect)  volume ${v}`);
  if (r.buildCache.pruned) out.push(`Build cache: ${formatBytes(r.buildCache.reclaimedBytes)} reclaimed.`);
  else if (r.buildCache.bytes > 0) out.push(`Build cache: ${formatBytes(r.buildCache.bytes)} reclaimable, shared by every project on this Engine, so left alone (set clean.buildCache: true on a host that runs only this stack).`);
  for (const n of r.notes) out.push(`Note: ${n}`);
  if (!r.deep && !r.dryRun) out.push('`/cdb clean --deep` also lists unused volumes and images of the project (needs approval).');
  return out;
}

export function cleanText(r: CleanResult): string {
  return lines(r).join('\n');
}

export function cleanSlack(r: CleanResult): SlackMessage {
  const [head = '', ...rest] = lines(r);
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const body = rest.length ? `\n\`\`\`\n${esc(rest.slice(0, 60).join('\n'))}${rest.length > 60 ? `\n… and ${rest.length - 60} more` : ''}\n\`\`\`` : '';
  const text = `:broom: ${esc(head)}${body}`;
  return {
    text: text.slice(0, 3000),
    file: rest.length > 60 ? { filename: `clean-${r.project}.txt`, content: cleanText(r), title: `clean ${r.project}` } : undefined,
  };
}
