import type { SlackMessage } from '../registry/define-command.ts';
import { ago, isLive, type TargetStatus } from '../targets-view.ts';
import { context, esc, header, section } from './blocks.ts';
import { textTable } from './table.ts';

/** One line per target from the workers' heartbeats: the multi-target `/cdb status`. */
export function summaryLine(t: TargetStatus): string {
  if (!isLive(t)) return `${t.name}: NO WORKER — none seen ${t.lastSeen === undefined ? 'ever' : `for ${ago(t.now - t.lastSeen)}`}`;
  const fresh = [...t.workers].sort((a, b) => b.lastSeen - a.lastSeen)[0];
  const s = fresh?.summaries[t.name];
  const seen = `seen ${ago(t.now - (t.lastSeen ?? t.now))} ago`;
  if (!s) return `${t.name}: worker up (${seen}), no summary yet`;
  if (s.error) return `${t.name}: ${s.project} — Docker unreachable (${s.error}); worker ${seen}`;
  const state = s.total === 0 ? 'no containers' : `${s.running}/${s.total} running${s.unhealthy ? `, ${s.unhealthy} unhealthy` : ''}`;
  return `${t.name}: ${s.project} — ${state}; worker ${seen}`;
}

function ok(t: TargetStatus): boolean {
  const s = [...t.workers].sort((a, b) => b.lastSeen - a.lastSeen)[0]?.summaries[t.name];
  return isLive(t) && !!s && !s.error && s.running === s.total && s.unhealthy === 0;
}

export function targetsSummary(targets: readonly TargetStatus[]): { slack: SlackMessage; text: string } {
  const lines = targets.map(summaryLine);
  const text = `${lines.join('\n')}\n(details: /cdb status --on <target>)`;
  return {
    text,
    slack: {
      text,
      blocks: [
        section(targets.map((t, i) => `${ok(t) ? ':large_green_circle:' : isLive(t) ? ':large_yellow_circle:' : ':red_circle:'} ${esc(lines[i] ?? '')}`).join('\n')),
        context(`Details: \`/cdb status --on <target>\` · workers and queues: \`/cdb targets\``),
      ],
    },
  };
}

/** `/cdb targets`: each target, its workers, its queue. */
export function targetsTable(targets: readonly TargetStatus[]): { slack: SlackMessage; text: string } {
  const rows = targets.flatMap((t) => {
    const queue = `${t.waiting} waiting${t.oldestWaitingAt ? ` (oldest ${ago(t.now - t.oldestWaitingAt)})` : ''}, ${t.active} active`;
    const head = [t.name, t.project, isLive(t) ? 'up' : 'NO WORKER', queue];
    if (!t.workers.length) return [[...head, '-', '-', '-', '-']];
    return t.workers.map((w, i) => [...(i === 0 ? head : ['', '', '', '']), w.host, w.version, `${ago(t.now - w.lastSeen)} ago`, String(w.concurrency)]);
  });
  const table = textTable(['TARGET', 'PROJECT', 'STATE', 'QUEUE', 'WORKER', 'VERSION', 'HEARTBEAT', 'CONC.'], rows);
  return {
    text: table,
    slack: { text: `${targets.length} target(s)`, blocks: [header('Targets'), section(`\`\`\`${esc(table)}\`\`\``), context('A target whose workers stop beating refuses commands at once; the alerts channel is told when it goes and comes back.')] },
  };
}
