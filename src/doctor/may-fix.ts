import type { Config } from '../config/schema.ts';
import type { Actor } from '../contracts/envelope.ts';
import { hasRole, highestRole, noGroups } from '../auth/authorize.ts';
import { OpsError } from '../errors.ts';

/**
 * `doctor` is a viewer command; `--fix` changes the stack, so it needs an operator. The worker cannot
 * resolve Slack user groups, so only operators listed by user ID pass here (the CLI and console,
 * run by someone with Docker access already, always do).
 */
export async function assertMayFix(actor: Actor, config: Pick<Config, 'roles'>): Promise<void> {
  if (actor.teamId === 'local' && actor.userId.startsWith('local:')) return;
  const held = await highestRole(actor, config, noGroups);
  if (!hasRole(held, 'operator')) {
    throw new OpsError('FORBIDDEN', '`doctor --fix` changes the stack and needs the *operator* role, listed by user ID in `roles.operator.users` (group membership cannot be checked on the worker yet). `doctor` without --fix needs only viewer.');
  }
}
