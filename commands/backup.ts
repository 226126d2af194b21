import { defineCommand } from '../src/shared/registry/define-command.ts';
import { backupArgs, type BackupResult } from '../src/shared/contracts/backup.ts';
import { context, esc, header, section } from '../src/shared/render/blocks.ts';
import { textTable } from '../src/shared/render/table.ts';
import { bytes } from '../src/shared/render/backup-report.ts';

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function counts(c: Readonly<Record<string, number>> | undefined): string {
  if (!c) return '-';
  const entries = Object.entries(c);
  if (!entries.length) return 'empty';
  const total = entries.reduce((n, [, v]) => n + v, 0);
  return entries.length > 3 ? `${entries.length} × ${total} total` : entries.map(([k, v]) => `${k}=${v}`).join(' ');
}

function table(r: BackupResult): string {
  return textTable(['COMPONENT', 'KIND', 'TARGET', 'SIZE', 'COUNTS', 'TIME'], r.artifacts.map((a) => [a.component, a.kind, a.target, `${bytes(a.bytes)} (${bytes(a.rawBytes)} raw)`, counts(a.counts), secs(a.ms)]));
}

function notes(r: BackupResult): string[] {
  const out = [r.encrypted ? 'encrypted with age' : 'NOT encrypted (no backup.recipient): files are 0600 on the worker host'];
  if (r.offsite) out.push(r.offsite.verified ? `off-site copy on ${r.offsite.host} verified (size and sha256)` : `off-site copy FAILED: ${r.offsite.error ?? 'unknown error'}`);
  if (r.pruned.length) out.push(`pruned ${r.pruned.join(', ')}`);
  return out;
}

export default defineCommand({
  kind: 'job',
  name: 'backup',
  summary: 'Backs up the stack’s databases, Redis and volumes (or some components) as backup-YYYYMMDD-HHMMSS.',
  usage: 'backup [component…] [--label=name]',
  help: 'With nothing configured it finds the stack’s PostgreSQL, MariaDB/MySQL and Redis containers by what runs in them, and the project’s named volumes, and says what it found. Each artifact is streamed from the container, gzipped, checksummed (sha256), encrypted with age when `backup.recipient` is set, written 0600, read back, and copied off-site when configured. See runbooks/disaster-recovery.md.',
  examples: ['backup', 'backup db', 'backup --label=before-migration'],
  role: 'operator',
  positionals: ['...components'],
  args: backupArgs,
  job: 'backup',
  slack(r: BackupResult) {
    const text = `Backup ${r.name} of ${r.project}: ${r.artifacts.length} artifacts, ${bytes(r.totalBytes)}, in ${secs(r.durationMs)}.`;
    return {
      text,
      blocks: [
        header(`Backup ${r.name}`),
        section(`:floppy_disk: ${esc(text)}`),
        section(`\`\`\`${esc(table(r))}\`\`\``),
        context(esc(`Found: ${r.discovered.join(', ')} · ${notes(r).join(' · ')} · restore with /cdb restore ${r.name}`)),
      ],
    };
  },
  text(r: BackupResult) {
    return `Backup ${r.name} of ${r.project} in ${r.dir} (${bytes(r.totalBytes)}, ${secs(r.durationMs)})\nFound: ${r.discovered.join(', ')}\n\n${table(r)}\n\n${notes(r).join('\n')}`;
  },
  exitCode(r: BackupResult) {
    return r.offsite && !r.offsite.verified ? 1 : 0;
  },
});
