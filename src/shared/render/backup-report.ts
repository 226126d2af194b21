import type { DrillResult } from '../contracts/backup.ts';
import { context, esc, header, section, type Block } from './blocks.ts';
import { textTable } from './table.ts';

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function age(ms: number): string {
  const h = ms / 3_600_000;
  if (h < 1) return `${Math.max(0, Math.round(ms / 60_000))} min`;
  if (h < 48) return `${h.toFixed(1)} h`;
  return `${Math.round(h / 24)} days`;
}

export function drillVerdict(r: DrillResult): string {
  const head = r.ok ? 'PASS' : 'FAIL';
  return `DR drill ${head}: ${r.backup} (${age(r.backupAgeMs)} old) restored into scratch project ${r.scratchProject} in ${secs(r.restoreMs)} (RTO estimate), ${r.checks.filter((c) => c.ok).length}/${r.checks.length} checks passed; ${r.cleanedUp.ok ? 'every scratch object removed' : 'SCRATCH OBJECTS LEFT BEHIND'}. Production was not touched.${r.error ? ` Error: ${r.error}` : ''}`;
}

export function drillTable(r: DrillResult): string {
  return textTable(['COMPONENT', 'TARGET', 'RESULT', 'DETAIL'], r.checks.map((c) => [c.component, c.target, c.ok ? 'ok' : 'FAIL', c.detail]));
}

export function drillBlocks(r: DrillResult): Block[] {
  return [
    header(`DR drill · ${r.project}: ${r.ok ? 'PASS' : 'FAIL'}`),
    section(`${r.ok ? ':white_check_mark:' : ':rotating_light:'} ${esc(drillVerdict(r))}`),
    section(`\`\`\`${esc(drillTable(r))}\`\`\``),
    context(esc(`Scratch: ${r.cleanedUp.containers} containers, ${r.cleanedUp.volumes} volumes, ${r.cleanedUp.networks} networks removed · total ${secs(r.totalMs)} · runbooks/disaster-recovery.md`)),
  ];
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
