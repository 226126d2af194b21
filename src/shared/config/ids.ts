import { z } from 'zod';

// Identifier patterns shared by the config sections: checked once at load, so the code can trust them.
export const slackUserId = z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'a Slack user ID such as U012ABCDEF');
export const slackGroupId = z.string().regex(/^S[A-Z0-9]{2,}$/, 'a Slack user-group ID such as S012ABCDEF');
export const slackChannelId = z.string().regex(/^[CGD][A-Z0-9]{2,}$/, 'a Slack channel ID such as C012ABCDEF');
export const commandName = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'a subcommand name such as rollback');
export const composeName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'a compose service, network or secret name');
