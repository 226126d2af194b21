import { defineJob } from '../src/worker/define-job.ts';
import { secretsArgs, type SecretsInventory } from '../src/shared/contracts/rotation.ts';
import { buildInventory } from '../src/features/rotation/inventory.ts';
import { stackSecretHost } from '../src/features/rotation/secret-host.ts';

/** `/cdb secrets`: names, files, consumers and ages; never a value, hash or length. */
export default defineJob({
  name: 'secrets',
  args: secretsArgs,
  timeoutMs: 60_000,
  async run(ctx): Promise<SecretsInventory> {
    const host = stackSecretHost(ctx.config);
    try {
      return await buildInventory(ctx.config, ctx.redis, host);
    } finally {
      await host.close();
    }
  },
});
