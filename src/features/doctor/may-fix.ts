import type { Config } from '../../shared/config/schema.ts';
import type { Actor } from '../../shared/contracts/envelope.ts';
import { hasRole, highestRole, noGroups, type GroupDirectory } from '../../shared/auth/authorize.ts';
import { OpsError } from '../../shared/errors.ts';

/**
 * `doctor` is a viewer command; `--fix` changes the stack, so it needs an operator. The worker has no
 * Slack token: user groups come from the bot's mirror in Redis (absent or stale grants nothing).
 * The CLI, run by someone with Docker access already, always passes.
 */
export async function assertMayFix(actor: Actor, config: Pick<Config, 'roles'>, groups: GroupDirectory = noGroups): Promise<void> {
  if (actor.teamId === 'local' && actor.userId.startsWith('local:')) return;
  const held = await highestRole(actor, config, groups);
  if (!hasRole(held, 'operator')) {
    throw new OpsError('FORBIDDEN', '`doctor --fix` changes the stack and needs the *operator* role, in `roles.operator` (by user ID or user group). `doctor` without --fix needs only viewer.');
  }
}
