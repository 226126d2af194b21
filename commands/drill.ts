import { defineCommand } from '../src/shared/registry/define-command.ts';
import { drillArgs, type DrillResult } from '../src/shared/contracts/backup.ts';
import { drillBlocks, drillTable, drillVerdict } from '../src/shared/render/backup-report.ts';

export default defineCommand({
  kind: 'job',
  name: 'drill',
  summary: 'DR drill: restores a backup into scratch containers, checks it against its manifest, removes them. Production is not touched.',
  usage: 'drill [backup|latest]',
  help: 'The seeds’ drill without destroying production: the backup is restored into scratch containers (same images, fresh volumes, an internal network, no published ports, their own compose project), row counts, keys and file hashes are compared with the manifest, and every scratch object is removed even on failure. Reports PASS/FAIL with the backup’s age and the restore time (an RTO estimate). `backup.drillSchedule` runs it on a schedule. See runbooks/disaster-recovery.md.',
  examples: ['drill', 'drill backup-20251224-150000'],
  role: 'operator',
  positionals: ['backup'],
  args: drillArgs,
  job: 'drill',
  slack(r: DrillResult) {
    return { text: drillVerdict(r), blocks: drillBlocks(r) };
  },
  text(r: DrillResult) {
    return `${drillVerdict(r)}\n\n${drillTable(r)}`;
  },
  exitCode(r: DrillResult) {
    return r.ok ? 0 : 1;
  },
});
