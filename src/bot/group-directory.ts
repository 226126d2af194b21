import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { GroupDirectory } from '../shared/auth/authorize.ts';

/**
 * User-group membership from Slack, cached briefly: role checks happen on every command,
 * and a removed member should lose access within a minute.
 */
export function slackGroupDirectory(client: WebClient, log: Logger, ttlMs = 60_000): GroupDirectory {
  const cache = new Map<string, { at: number; members: Set<string> }>();
  return {
    async members(groupId) {
      const hit = cache.get(groupId);
      if (hit && Date.now() - hit.at < ttlMs) return hit.members;
      try {
        const res = await client.usergroups.users.list({ usergroup: groupId });
        const members = new Set(res.users ?? []);
        cache.set(groupId, { at: Date.now(), members });
        return members;
      } catch (err) {
        // Fail closed: an unknown group grants nothing.
        log.warn({ err, groupId }, 'user group lookup failed');
        return new Set<string>();
      }
    },
  };
}
