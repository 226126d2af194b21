import { z } from 'zod';
import { defineCommand } from '../src/shared/registry/define-command.ts';
import { targetsTable } from '../src/shared/render/targets.ts';

const unavailable = 'Targets are read from Redis, which this front end has no access to.';

export default defineCommand({
  kind: 'answer',
  name: 'targets',
  summary: 'Lists the targets with their workers (host, version, heartbeat, concurrency) and queues.',
  usage: 'targets',
  help: 'Each target (a stack on a host), the workers that serve it with their last heartbeat, and its queue: jobs waiting, the oldest one, and jobs running. Commands take a target with `--on <target>`.',
  examples: ['targets'],
  role: 'viewer',
  args: z.object({}).strict(),
  async answer(_args, ctx) {
    if (!ctx.targets) return { text: unavailable };
    return targetsTable(await ctx.targets.overview()).slack;
  },
  async text(_args, ctx) {
    if (!ctx.targets) return unavailable;
    return targetsTable(await ctx.targets.overview()).text;
  },
});
