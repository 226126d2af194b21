import { SEVERITIES, type DoctorResult, type Finding, type Severity } from '../contracts/doctor.ts';
import type { SlackMessage as ChatMessage } from '../registry/define-command.ts';
import { type Block, capBlocks, context, esc, header, section, SECTION_MAX } from './blocks.ts';
import { textTable } from './table.ts';

/**
 * Doctor reports for Slack and terminals. Pure (no Docker, no Slack client): the bot renders
 * interactive results with it, the worker the scheduled notices.
 */

const EMOJI: Record<Severity, string> = {
  critical: ':red_circle:',
  high: ':large_orange_circle:',
  medium: ':large_yellow_circle:',
  low: ':white_circle:',
  info: ':white_check_mark:',
};

export interface SlackMessage {
  readonly text: string;
  readonly blocks: Block[];
}

/** Notices carry blocks as plain records (src/shared/contracts/envelope.ts). */
export function noticeBlocks(blocks: readonly Block[]): Record<string, unknown>[] {
  return blocks.map((b) => ({ ...b }));
}

export function problems(result: Pick<DoctorResult, 'findings'>): Finding[] {
  return result.findings.filter((f) => f.status !== 'pass');
}

export function severityCounts(result: Pick<DoctorResult, 'findings'>): [Severity, number][] {
  return SEVERITIES.filter((s) => s !== 'info').map((s) => [s, problems(result).filter((f) => f.severity === s).length] as [Severity, number]).filter(([, n]) => n > 0);
}

/** "2 critical · 5 high · 1 low · 15 checks passed", worst first. */
export function summaryText(result: DoctorResult, decorate = false): string {
  const passed = result.findings.filter((f) => f.status === 'pass').length;
  const parts = severityCounts(result).map(([s, n]) => `${decorate ? `${EMOJI[s]} ` : ''}${n} ${s}`);
  parts.push(`${decorate ? `${EMOJI.info} ` : ''}${passed} of ${result.checks.length} checks passed`);
  return parts.join(' · ');
}

function runbookRef(result: DoctorResult, id: string, slack: boolean): string {
  const path = `runbooks/${id}.md`;
  if (!slack) return path;
  return result.runbookBaseUrl ? `<${result.runbookBaseUrl.replace(/\/$/, '')}/${id}.md|${id} runbook>` : `\`${path}\``;
}

function scope(result: DoctorResult): string {
  const c = result.counts;
  const n = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
  return `${n(result.checks.length, 'check')} · ${n(c.containers, 'container')} · ${n(c.volumes, 'volume')} · ${n(c.networks, 'network')} · ${n(c.files, 'secret file')} · ${(result.durationMs / 1000).toFixed(1)} s`;
}

function findingLine(result: DoctorResult, f: Finding): string {
  const name = f.name ? ` \`${esc(f.name)}\`` : '';
  const fixable = f.fixable === 'safe' ? ' _(doctor --fix can do this)_' : f.fixable === 'approval' ? ' _(fix needs approval)_' : '';
  const fix = f.fix ? `\n    fix: \`${esc(f.fix.split('\n')[0] ?? '')}${f.fix.includes('\n') ? ' …' : ''}\`` : '';
  return `${EMOJI[f.severity]} *${f.check}*${name} ${esc(f.detail)}${fixable} · ${runbookRef(result, f.runbook, true)}${fix}`;
}

/** Lines packed into as few sections as Slack's 3000-character limit allows. */
function pack(lines: string[]): Block[] {
  const blocks: Block[] = [];
  let current = '';
  for (const line of lines) {
    const clipped = line.length > SECTION_MAX - 10 ? `${line.slice(0, SECTION_MAX - 11)}…` : line;
    if (current && current.length + clipped.length + 1 > SECTION_MAX - 10) {
      blocks.push(section(current));
      current = '';
    }
    current = current ? `${current}\n${clipped}` : clipped;
  }
  if (current) blocks.push(section(current));
  return blocks;
}

function fixLines(result: DoctorResult): string[] {
  return (result.fixes ?? []).map((f) => {
    const mark = f.outcome === 'done' ? ':white_check_mark:' : f.outcome === 'needs-approval' ? ':lock:' : f.outcome === 'failed' ? ':x:' : ':fast_forward:';
    return `${mark} ${esc(f.action)} \`${esc(f.target)}\`: ${f.outcome}${f.detail ? ` (${esc(f.detail)})` : ''}`;
  });
}

/** One line per failing check, worst first: its count, the first few names, its runbook. */
function checkLines(result: DoctorResult): string[] {
  const groups = new Map<string, Finding[]>();
  for (const f of problems(result)) groups.set(f.check, [...(groups.get(f.check) ?? []), f]);
  return [...groups.entries()].map(([check, list]) => {
    const names = [...new Set(list.map((f) => f.name || f.detail.slice(0, 60)))];
    const shown = names.slice(0, 5).map((n) => `\`${esc(n)}\``).join(', ');
    const more = names.length > 5 ? ` and ${names.length - 5} more` : '';
    const worst = list[0] as Finding;
    return `${EMOJI[worst.severity]} *${check}* ×${list.length}: ${shown}${more} · ${runbookRef(result, worst.runbook, true)}`;
  });
}

/** The one-screen summary: counts by severity, then one line per failing check, worst first. */
export function summaryBlocks(result: DoctorResult, opts: { title?: string; note?: string } = {}): Block[] {
  const blocks: Block[] = [header(opts.title ?? `Doctor · ${result.project}`), section(summaryText(result, true)), context(esc(scope(result)))];
  if (opts.note) blocks.push(section(opts.note));
  const lines = checkLines(result);
  blocks.push(...(lines.length ? pack(lines) : [section(':white_check_mark: Nothing wrong found.')]));
  return blocks;
}

/** Every problem (and fix outcome), for a thread under the summary. */
export function detailBlocks(result: DoctorResult): Block[] {
  return [...pack(problems(result).map((f) => findingLine(result, f))), ...pack(fixLines(result))];
}

/** Thread replies: the detail blocks split into messages within Slack's block limit. */
export function detailMessages(result: DoctorResult, perMessage = 40): SlackMessage[] {
  const blocks = detailBlocks(result);
  const out: SlackMessage[] = [];
  for (let i = 0; i < blocks.length; i += perMessage) {
    out.push({ text: `Doctor details (${i / perMessage + 1}/${Math.ceil(blocks.length / perMessage)})`, blocks: blocks.slice(i, i + perMessage) });
  }
  return out;
}

/**
 * The interactive reply: a one-screen summary (counts by severity, worst first, one line per failing
 * check) with every problem and its fix as replies in the thread.
 */
export function doctorSlack(result: DoctorResult): ChatMessage {
  const fixes = result.fixes ? [section(`*--fix*\n${fixLines(result).join('\n') || 'Nothing to fix automatically.'}`)] : [];
  const thread = problems(result).length || result.fixes ? detailMessages(result) : [];
  const blocks = [...summaryBlocks(result), ...fixes];
  if (thread.length) blocks.push(context('Each problem with its fix and runbook is in the thread.'));
  return {
    text: `Doctor ${result.project}: ${summaryText(result)}`,
    blocks: capBlocks(blocks, (n) => `…and ${n} more blocks. \`cdb doctor --json\` lists every finding; \`/cdb doctor &lt;check-id&gt;\` narrows down.`),
    thread,
  };
}

/** Terminal output: a table of every line (passes last), then how to fix each problem. */
export function doctorText(result: DoctorResult): string {
  const rows = result.findings.map((f) => [f.status.toUpperCase(), f.severity, f.check, f.target, f.name || '-', f.detail]);
  const out = [textTable(['STATUS', 'SEVERITY', 'CHECK', 'TARGET', 'NAME', 'DETAIL'], rows), '', `${summaryText(result)} (${scope(result)})`];
  const fixable = problems(result).filter((f) => f.fix);
  if (fixable.length) {
    out.push('', 'How to fix:');
    for (const f of fixable) {
      out.push(`- ${f.check}${f.name ? ` ${f.name}` : ''} (${runbookRef(result, f.runbook, false)}):`);
      for (const line of (f.fix ?? '').split('\n')) out.push(`    ${line}`);
    }
  }
  if (result.fixes) {
    out.push('', '--fix:');
    if (!result.fixes.length) out.push('  nothing to fix automatically');
    for (const f of result.fixes) out.push(`  ${f.outcome.padEnd(14)} ${f.action} ${f.target}${f.detail ? ` (${f.detail})` : ''}  [${f.command}]`);
  }
  return out.join('\n');
}
