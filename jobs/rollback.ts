import { defineJob } from '../src/worker/define-job.ts';
import { rollbackArgs, type RollbackJobResult } from '../src/shared/contracts/rollback.ts';
import { withRollbackEnv } from '../src/features/rollback/env.ts';
import { assertTagName } from '../src/features/rollback/naming.ts';
import { runClear, runRollback } from '../src/features/rollback/run-rollback.ts';

/** Runs only after approval (the `rollback` command has `approval: true`). */
export default defineJob({
  name: 'rollback',
  journaled: true,
  args: rollbackArgs,
  async run(ctx, args): Promise<RollbackJobResult> {
    // The queue is not trusted: the name is checked again before anything reaches Docker.
    if (args.tag && args.tag !== 'latest') assertTagName(args.tag);
    return withRollbackEnv<RollbackJobResult>(ctx, (env) => (args.clear ? runClear(env) : runRollback(env, args)));
  },
});
