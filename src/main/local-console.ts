import { createInterface } from 'node:readline/promises';
import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import type { Actor } from '../shared/contracts/envelope.ts';
import { noGroups } from '../shared/auth/authorize.ts';
import { dispatch } from '../bot/dispatch.ts';
import type { ReplySink } from '../bot/reply-consumer.ts';
import { replyToText } from '../bot/render-reply.ts';
import type { BotCore } from './start-bot.ts';

/** The demo user: an operator, so read-only and operator commands work; approvals never do. */
export const LOCAL_ACTOR: Actor = { userId: 'ULOCALDEMO', teamId: 'TLOCAL', name: 'local-demo' };

export function consoleConfig(config: Config): Config {
  const operator = { users: [...config.roles.operator.users, LOCAL_ACTOR.userId], groups: config.roles.operator.groups };
  return Object.freeze({ ...config, roles: Object.freeze({ ...config.roles, operator }) });
}

export class ConsoleSink implements ReplySink {
  constructor(
    private readonly core: BotCore,
    private readonly out: NodeJS.WritableStream,
  ) {}

  async deliver(reply: Parameters<ReplySink['deliver']>[0]): Promise<void> {
    if (reply.type !== 'notice' && reply.origin.kind !== 'console') return;
    this.out.write(`\n${replyToText(reply, this.core.registry)}\n`);
  }
}

/**
 * A local stand-in for Slack for newcomers: `/cdb status` typed at a prompt goes through the same
 * dispatch, queue and worker as in Slack, and replies print as text.
 */
export async function runLocalConsole(opts: { config: Config; core: BotCore; log: Logger; input: NodeJS.ReadableStream; output: NodeJS.WritableStream }): Promise<void> {
  const { core, output } = opts;
  const config = consoleConfig(opts.config);
  output.write('cdb local demo console — NOT connected to Slack. Type `/cdb help`, `/cdb status`, or `exit`.\n');
  const rl = createInterface({ input: opts.input, output, terminal: false });
  output.write('cdb> ');
  for await (const line of rl) {
    const text = line.trim().replace(/^\/cdb\b\s*/, '');
    if (text === 'exit' || text === 'quit') break;
    if (line.trim()) {
      const outcome = await dispatch(
        { text, actor: LOCAL_ACTOR, origin: { kind: 'console' } },
        { config, registry: core.registry, groups: noGroups, jobs: core.jobs, audit: core.audit, log: opts.log },
      );
      output.write(`${outcome.plain}\n`);
    }
    output.write('cdb> ');
  }
  rl.close();
}

