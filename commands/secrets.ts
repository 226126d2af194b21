import { defineCommand } from '../src/shared/registry/define-command.ts';
import { secretsArgs, type SecretRow, type SecretsInventory } from '../src/shared/contracts/rotation.ts';
import { capBlocks, context, esc, header, section, type Block } from '../src/shared/render/blocks.ts';
import { textTable } from '../src/shared/render/table.ts';

const date = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function dueMark(r: SecretRow): string {
  if (r.inProgress) return 'rotating';
  if (!r.managed) return 'unmanaged';
  if (r.due === 'overdue') return 'OVERDUE';
  if (r.due === 'soon') return 'soon';
  return r.due === 'ok' ? 'ok' : '?';
}

function age(r: SecretRow): string {
  if (r.ageDays === undefined) return '-';
  return `${Math.floor(r.ageDays)} d${r.ageSource === 'file' ? ' (file)' : ''}`;
}

function last(r: SecretRow): string {
  if (!r.lastRotation) return r.managed ? 'never (by the bot)' : '-';
  return `${date(r.lastRotation.at)} by ${r.lastRotation.byName ?? r.lastRotation.by}`;
}

function rowsTable(inv: SecretsInventory): string {
  return textTable(
    ['SECRET', 'KIND', 'FILE', 'CONSUMERS', 'EVERY', 'LAST ROTATION', 'AGE', 'DUE'],
    inv.rows.map((r) => [r.name, r.kind ?? '-', r.file ?? '(external)', r.consumers.join(', ') || '-', r.scheduleDays ? `${r.scheduleDays} d` : '-', last(r), age(r), dueMark(r)]),
  );
}

function summary(inv: SecretsInventory): string {
  const overdue = inv.rows.filter((r) => r.due === 'overdue').length;
  const soon = inv.rows.filter((r) => r.due === 'soon').length;
  const unmanaged = inv.rows.filter((r) => !r.managed).length;
  return `${inv.rows.length} secrets: ${overdue} overdue, ${soon} due within ${inv.dueSoonDays} days, ${unmanaged} unmanaged.`;
}

export default defineCommand({
  kind: 'job',
  name: 'secrets',
  summary: 'The secret inventory: files, consumers, schedule, last rotation, age, overdue markers. Never a value.',
  usage: 'secrets',
  help: 'Lists the managed secrets (rotation.secrets) and every secret the compose files declare, managed or not, with the services that consume them. Age counts from the last rotation by the bot, else from the file’s modification time. Values, hashes and lengths are never shown. `/cdb rotate <secret>` rotates one (needs approval).',
  examples: ['secrets'],
  role: 'viewer',
  args: secretsArgs,
  job: 'secrets',
  slack(inv: SecretsInventory) {
    const blocks: Block[] = [header('Secrets'), section(esc(summary(inv))), section(`\`\`\`${esc(rowsTable(inv))}\`\`\``)];
    const windows = inv.rows.filter((r) => r.windowUntil);
    if (windows.length) blocks.push(context(esc(windows.map((r) => `${r.name}_old accepted until ${date(r.windowUntil ?? 0)}`).join('; '))));
    if (inv.problems.length) blocks.push(context(esc(inv.problems.join('; '))));
    return { text: summary(inv), blocks: capBlocks(blocks, (n) => `…and ${n} more.`) };
  },
  text(inv: SecretsInventory) {
    return [summary(inv), rowsTable(inv), ...inv.problems].join('\n\n');
  },
  exitCode(inv: SecretsInventory) {
    return inv.rows.some((r) => r.due === 'overdue') ? 1 : 0;
  },
});
