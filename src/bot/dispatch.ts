import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import type { Actor, JobEnvelope, Origin } from '../contracts/envelope.ts';
import { OpsError, toUserError } from '../errors.ts';
import type { AuditLog } from '../audit/audit.ts';
import { authorize, checkChannel, type GroupDirectory } from '../auth/authorize.ts';
import { resolveCommand, type Registry } from '../registry/registry.ts';
import type { SlackMessage } from '../registry/define-command.ts';

export interface DispatchDeps {
  readonly config: Config;
  readonly registry: Registry;
  readonly groups: GroupDirectory;
  readonly jobs: Queue;
  readonly audit: AuditLog;
  readonly log: Logger;
}

export interface CommandRequest {
  readonly text: string;
  readonly actor: Actor;
  readonly origin: Origin;
}

export interface DispatchOutcome {
  readonly requestId: string;
  /** What only the requester sees right away. */
  readonly ephemeral: SlackMessage;
  /** The same answer for a terminal. */
  readonly plain: string;
  readonly enqueued: boolean;
  readonly ok: boolean;
}

export function newRequestId(): string {
  return randomBytes(9).toString('base64url');
}

/**
 * The whole path from typed text to an enqueued job or an answer, shared by Slack, the local console
 * and tests. It never throws: every failure becomes a friendly ephemeral line and an audit entry.
 */
export async function dispatch(req: CommandRequest, deps: DispatchDeps): Promise<DispatchOutcome> {
  const requestId = newRequestId();
  const started = Date.now();
  const log = deps.log.child({ requestId, user: req.actor.userId });
  let commandName = req.text.trim().split(/\s+/)[0]?.slice(0, 31) || 'help';
  let args: Record<string, unknown> = {};
  const via = req.origin.kind;
  try {
    const { command, args: parsed } = resolveCommand(deps.registry, req.text);
    commandName = command.name;
    args = parsed;
    if (command.role !== 'everyone') checkChannel(req.origin.channel, deps.config);
    await authorize(req.actor, command.role, deps.config, deps.groups);
    if (command.kind === 'answer') {
      const answerCtx = { actor: req.actor, origin: req.origin, registry: deps.registry };
      const message = command.answer(parsed, answerCtx);
      await deps.audit.record({ requestId, command: command.name, args, actor: req.actor, via, outcome: 'answered', durationMs: Date.now() - started });
      return { requestId, ephemeral: message, plain: command.text(parsed, answerCtx), enqueued: false, ok: true };
    }
    if (command.approval) {
      throw new OpsError('APPROVAL_REQUIRED', `\`${command.name}\` needs a second person’s approval, and approvals are not available yet. Nothing was changed.`);
    }
    const envelope: JobEnvelope = { requestId, command: command.name, args, actor: req.actor, origin: req.origin, requestedAt: started };
    // The job id is the request id: a retried enqueue of the same request cannot run twice.
    await deps.jobs.add(command.job, envelope, { jobId: requestId, removeOnComplete: 1000, removeOnFail: 5000 });
    await deps.audit.record({ requestId, command: command.name, args, actor: req.actor, via, outcome: 'accepted' });
    log.info({ cmd: command.name }, 'job enqueued');
    const text = `\`/cdb ${command.name}\` is on its way (request \`${requestId}\`). The result will be posted here.`;
    return { requestId, ephemeral: { text: `:hourglass_flowing_sand: ${text}` }, plain: text.replace(/`/g, ''), enqueued: true, ok: true };
  } catch (err) {
    const user = toUserError(err, requestId);
    if (user.code === 'INTERNAL') log.error({ err }, 'dispatch failed');
    await deps.audit.record({ requestId, command: commandName, args, actor: req.actor, via, outcome: 'rejected', code: user.code, durationMs: Date.now() - started });
    return { requestId, ephemeral: { text: `:warning: ${user.message}` }, plain: `✗ ${user.message.replace(/`/g, '')}`, enqueued: false, ok: false };
  }
}
