import { defineJob } from '../src/worker/define-job.ts';
import { secretsArgs } from '../src/shared/contracts/rotation.ts';
import { buildInventory } from '../src/features/rotation/inventory.ts';
import { dueLine, dueToday } from '../src/features/rotation/overdue.ts';
import { stackSecretHost } from '../src/features/rotation/secret-host.ts';
import { keyPrefix } from '../src/shared/queue/names.ts';

/** Scheduled (rotation.checkSchedule): posts overdue and soon-due secrets to channels.alerts, once per secret per day. */
export default defineJob({
  name: 'secrets-check',
  args: secretsArgs,
  timeoutMs: 60_000,
  async run(ctx) {
    const host = stackSecretHost(ctx.config);
    try {
      const inv = await buildInventory(ctx.config, ctx.redis, host);
      const rows = await dueToday(ctx.redis, keyPrefix(ctx.config), inv);
      for (const row of rows) {
        await ctx.notify({ key: `secret-due:${row.name}:${new Date().toISOString().slice(0, 10)}`, action: 'root', text: `:hourglass: Secret ${dueLine(row)}` });
      }
      return { posted: rows.map((r) => r.name) };
    } finally {
      await host.close();
    }
  },
});
