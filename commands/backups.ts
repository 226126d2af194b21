import { defineCommand } from '../src/shared/registry/define-command.ts';
import { backupsArgs, type BackupsResult, type BackupSummary } from '../src/shared/contracts/backup.ts';
import { context, esc, header, section } from '../src/shared/render/blocks.ts';
import { textTable } from '../src/shared/render/table.ts';
import { age, bytes } from '../src/shared/render/backup-report.ts';

function rows(r: BackupsResult, now: number): string[][] {
  return r.backups.map((b: BackupSummary) => [
    b.name + (b.kind === 'safety' ? ' (safety)' : ''),
    age(now - Date.parse(b.createdAt)),
    bytes(b.bytes),
    b.components.join(','),
    b.encrypted ? 'yes' : 'NO',
    b.verified ? 'yes' : 'NO',
    b.offsite ? (b.offsite.verified ? `${b.offsite.host} ✓` : 'FAILED') : '-',
  ]);
}

const HEAD = ['NAME', 'AGE', 'SIZE', 'COMPONENTS', 'ENCRYPTED', 'VERIFIED', 'OFF-SITE'];

export default defineCommand({
  kind: 'job',
  name: 'backups',
  summary: 'Lists the stack’s backups, newest first: size, components, encrypted, verified, off-site copy, age.',
  usage: 'backups [--limit=N]',
  role: 'viewer',
  args: backupsArgs,
  job: 'backups',
  slack(r: BackupsResult) {
    if (!r.backups.length) return { text: `No backups of ${r.project} in ${r.dir} yet. Make one with /cdb backup.` };
    const extra = r.incomplete ? ` · ${r.incomplete} incomplete (cut short; never restored, pruned after a day)` : '';
    return {
      text: `${r.backups.length} backups of ${r.project}`,
      blocks: [header(`Backups · ${r.project}`), section(`\`\`\`${esc(textTable(HEAD, rows(r, Date.now())))}\`\`\``), context(esc(`${r.dir}${extra} · /cdb restore <name|latest> · /cdb drill`))],
    };
  },
  text(r: BackupsResult) {
    if (!r.backups.length) return `No backups of ${r.project} in ${r.dir} yet.`;
    return `${textTable(HEAD, rows(r, Date.now()))}${r.incomplete ? `\n\n${r.incomplete} incomplete backup directories (never restored).` : ''}`;
  },
});
