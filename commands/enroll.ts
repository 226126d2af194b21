import { z } from 'zod';
import { defineCommand } from '../src/shared/registry/define-command.ts';

const NOT_HERE = 'Enrollment for one-time codes happens in Slack: run `/cdb enroll` there and follow the direct message.';

export default defineCommand({
  kind: 'answer',
  name: 'enroll',
  summary: 'Enroll an authenticator app for one-time codes (approvers of step-up commands).',
  usage: 'enroll',
  help: 'Some approvals (see `security.stepUp.commands`) need a one-time code from an authenticator app besides the click. This sends you a direct message with the enrollment link, shown once; you confirm with the first code. A lost phone is reset on the bot host, never from chat.',
  examples: ['enroll'],
  role: 'approver',
  args: z.object({}).strict(),
  async answer(_args, ctx) {
    if (!ctx.stepUp) return { text: ctx.origin.kind === 'slack' ? 'One-time codes are not set up on this bot (CDB_STEPUP_KEY_FILE is not configured).' : NOT_HERE };
    return { text: await ctx.stepUp.enroll(ctx.actor) };
  },
  text: () => NOT_HERE.replace(/`/g, ''),
});
