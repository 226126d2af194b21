import { defineJob } from '../src/worker/define-job.ts';
import { OpsError } from '../src/shared/errors.ts';
import { hostFilesFor } from '../src/host/host-files.ts';
import { hasRole, highestRole, noGroups } from '../src/shared/auth/authorize.ts';
import { inventory } from '../src/features/clean/inventory.ts';
import { executeClean } from '../src/features/clean/execute.ts';
import { cleanArgs, type CleanResult } from '../src/shared/clean/contract.ts';

export default defineJob({
  name: 'clean',
  args: cleanArgs,
  timeoutMs: 600_000,
  async run(ctx, args): Promise<CleanResult> {
    // The worker checks the role again: the queue is not trusted, and groups come from the bot's mirror.
    if (!(ctx.actor.teamId === 'local' && ctx.actor.userId.startsWith('local:'))) {
      const held = await highestRole(ctx.actor, ctx.config, ctx.groups ?? noGroups);
      if (!hasRole(held, 'operator')) throw new OpsError('FORBIDDEN', '`clean` removes containers and images and needs the *operator* role (`roles.operator`).');
    }
    const deep = args.deep === true;
    const dryRun = args.dryRun === true;
    // The arguments alone never unlock a deep clean: only a run the approval gate admitted, with the list it pinned.
    if (deep && !dryRun && (!ctx.approval || !args.approved)) {
      throw new OpsError('APPROVAL_REQUIRED', '`clean --deep` removes volumes and images, so it runs only after a second person approves the exact list in Slack. Nothing was removed; `clean --deep --dry-run` shows the list.');
    }
    const files = hostFilesFor(ctx.config, 'inspect');
    try {
      ctx.progress(`Listing what ${ctx.config.stack.project} left behind…`);
      const plan = await inventory({ docker: ctx.docker, config: ctx.config, files, deep });
      return await executeClean({
        docker: ctx.docker,
        plan,
        approved: deep && !dryRun ? args.approved : undefined,
        dryRun,
        pruneBuildCache: ctx.config.clean.buildCache,
        signal: ctx.signal,
        progress: ctx.progress,
      });
    } finally {
      await files.close();
    }
  },
});
