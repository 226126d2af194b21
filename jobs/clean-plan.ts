import { z } from 'zod';
import { defineJob } from '../src/worker/define-job.ts';
import { hostFilesFor } from '../src/host/host-files.ts';
import { inventory } from '../src/features/clean/inventory.ts';
import type { CleanPlan } from '../src/shared/clean/contract.ts';

/** Read-only: what `clean --deep` would remove, for the approval request to list and pin. */
export default defineJob({
  name: 'clean-plan',
  args: z.object({ deep: z.literal(true) }).strict(),
  timeoutMs: 120_000,
  async run(ctx): Promise<CleanPlan> {
    const files = hostFilesFor(ctx.config, 'inspect');
    try {
      return await inventory({ docker: ctx.docker, config: ctx.config, files, deep: true });
    } finally {
      await files.close();
    }
  },
});
