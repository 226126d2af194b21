import type { Config } from '../config/schema.ts';
import { OpsError } from '../errors.ts';
import { ROLE_RANK, type Role } from '../registry/define-command.ts';
import type { Actor } from '../contracts/envelope.ts';

/** Looks up who is in a Slack user group (the bot answers it with usergroups.users.list). */
export interface GroupDirectory {
  members(groupId: string): Promise<ReadonlySet<string>>;
}

export const noGroups: GroupDirectory = { members: async () => new Set() };

const GRANTED: readonly Exclude<Role, 'everyone'>[] = ['approver', 'operator', 'viewer'];

/** The highest role the actor holds: listed by user ID, or through a user group. */
export async function highestRole(actor: Actor, config: Pick<Config, 'roles'>, groups: GroupDirectory): Promise<Role> {
  for (const role of GRANTED) {
    const members = config.roles[role];
    if (members.users.includes(actor.userId)) return role;
    for (const group of members.groups) {
      if ((await groups.members(group)).has(actor.userId)) return role;
    }
  }
  return 'everyone';
}

export function hasRole(held: Role, needed: Role): boolean {
  return ROLE_RANK[held] >= ROLE_RANK[needed];
}

export async function authorize(actor: Actor, needed: Role, config: Pick<Config, 'roles'>, groups: GroupDirectory): Promise<Role> {
  if (needed === 'everyone') return needed;
  const held = await highestRole(actor, config, groups);
  if (!hasRole(held, needed)) {
    throw new OpsError('FORBIDDEN', `This needs the *${needed}* role, and you have ${held === 'everyone' ? 'none' : `*${held}*`}. Ask an admin to add you to \`roles.${needed}\` in the cdb config.`);
  }
  return held;
}

/** An empty allow-list means every channel the app is in. */
export function checkChannel(channel: string | undefined, config: Pick<Config, 'channels'>): void {
  const allowed = config.channels.commands;
  if (!allowed.length || (channel && allowed.includes(channel))) return;
  throw new OpsError('CHANNEL_NOT_ALLOWED', `Commands are not accepted in this channel. Use ${allowed.map((c) => `<#${c}>`).join(' or ')}.`);
}
