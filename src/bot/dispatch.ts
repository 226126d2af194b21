import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import type { Actor, JobEnvelope, Origin } from '../shared/contracts/envelope.ts';
import { OpsError, toUserError } from '../shared/errors.ts';
import type { AuditLog } from '../shared/audit/audit.ts';
import { authorize, checkChannel, type GroupDirectory } from '../shared/auth/authorize.ts';
import { resolveCommand, type Registry } from '../shared/registry/registry.ts';
import { jobOf, requiredRole, type SlackMessage, type StepUpEnroller } from '../shared/registry/define-command.ts';
import { plainText } from '../shared/render/blocks.ts';
import { needsApproval } from '../shared/approval/policy.ts';
import type { ApprovalGateway } from './approval/service.ts';
import { enqueue, JobRouter, targetsViewOf, type JobsQueue } from './job-router.ts';
import { isMultiTarget, resolveTarget } from '../shared/targets.ts';
import { slackDate } from '../shared/approval/message.ts';
import { commandLabel, commandsTotal } from '../shared/metrics.ts';
import { pausePoint } from '../shared/pause-point.ts';
import type { PostAck } from './post-ack.ts';

export interface DispatchDeps {
  readonly config: Config;
  readonly registry: Registry;
  readonly groups: GroupDirectory;
  readonly jobs: JobsQueue;
  readonly audit: AuditLog;
  readonly log: Logger;
  /** Two-person approval (Slack only); without it, commands needing approval are refused. */
  readonly approvals?: ApprovalGateway;
  /** Step-up enrollment by DM (Slack only). */
  readonly stepUp?: StepUpEnroller;
  /**
   * Called with the answer as soon as a job command is validated and authorised, before the enqueue
   * and audit round trips to Redis: Slack can be acked then (BENCHMARKS.md, ack). If the enqueue
   * fails afterwards, dispatch still resolves with the error, for the caller to send as a follow-up.
   */
  readonly onAccepted?: (outcome: DispatchOutcome) => void;
  /** With onAccepted: the enqueue waits for the burst's acks and goes out batched (post-ack.ts). */
  readonly postAck?: PostAck;
}

export interface CommandRequest {
  /** Set when the request was already recorded under an id (the Slack ack's accepted record). */
  readonly requestId?: string;
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

// Request ids come from a pool of random bytes refilled 1024 ids at a time: one getrandom call per
// id was a visible share of the ack's CPU under a burst (BENCHMARKS.md, ack).
const ID_BYTES = 9;
let idPool = Buffer.alloc(0);
let idOffset = 0;

export function newRequestId(): string {
  if (idOffset + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_BYTES * 1024);
    idOffset = 0;
  }
  const id = idPool.toString('base64url', idOffset, idOffset + ID_BYTES);
  idOffset += ID_BYTES;
  return id;
}

/**
 * The whole path from typed text to an enqueued job or an answer, shared by Slack, the local console
 * and tests. It never throws: every failure becomes a friendly ephemeral line and an audit entry.
 */
export async function dispatch(req: CommandRequest, deps: DispatchDeps): Promise<DispatchOutcome> {
  const requestId = req.requestId ?? newRequestId();
  const started = Date.now();
  // Built only when something is logged: a child logger per request costs on the ack's hot path.
  const log = { info: (o: object, m: string) => deps.log.info({ requestId, user: req.actor.userId, ...o }, m), error: (o: object, m: string) => deps.log.error({ requestId, user: req.actor.userId, ...o }, m) };
  let commandName = req.text.trim().split(/\s+/)[0]?.slice(0, 31) || 'help';
  let args: Record<string, unknown> = {};
  const via = req.origin.kind;
  try {
    const { command, args: parsed, target: requested } = resolveCommand(deps.registry, req.text);
    commandName = command.name;
    args = parsed;
    if (command.role !== 'everyone') checkChannel(req.origin.channel, deps.config);
    // The role for what is asked (e.g. doctor --fix), before any job or approval request exists.
    await authorize(req.actor, requiredRole(command, parsed), deps.config, deps.groups);
    if (command.kind === 'answer') {
      const answerCtx = { actor: req.actor, origin: req.origin, registry: deps.registry, approvals: deps.approvals?.reader, targets: targetsViewOf(deps.jobs), audit: deps.audit, stepUp: deps.stepUp };
      const message = await command.answer(parsed, answerCtx);
      const plain = await command.text(parsed, answerCtx);
      await deps.audit.record({ requestId, command: command.name, args, actor: req.actor, via, outcome: 'answered', durationMs: Date.now() - started });
      commandsTotal.inc({ command: command.name, outcome: 'answered' });
      return { requestId, ephemeral: message, plain, enqueued: false, ok: true };
    }
    // Only the bare command (`/cdb status`): `/cdb status web` still asks which target `web` is on.
    const bare = Object.values(parsed).every((v) => v === undefined);
    if (requested === undefined && bare && command.acrossTargets && isMultiTarget(deps.config)) {
      const all = (await targetsViewOf(deps.jobs)?.overview()) ?? [];
      await deps.audit.record({ requestId, command: command.name, args, actor: req.actor, via, outcome: 'answered', durationMs: Date.now() - started });
      return { requestId, ephemeral: command.acrossTargets.slack(all), plain: command.acrossTargets.text(all), enqueued: false, ok: true };
    }
    const resolved = resolveTarget(deps.config, requested, command.name);
    const target = resolved.explicit ? resolved.name : undefined;
    if (needsApproval(command, parsed, deps.config)) {
      // Never enqueued from here: the job is enqueued only when the request becomes approved.
      if (!deps.approvals) {
        throw new OpsError('APPROVAL_REQUIRED', `\`${command.name}\` needs a second person’s approval, which is given in Slack: run \`/cdb ${command.name}\` there. Nothing was changed.`);
      }
      const record = await deps.approvals.request(command, parsed, req.actor, req.origin, target);
      log.info({ cmd: command.name, approvalId: record.id }, 'approval requested');
      commandsTotal.inc({ command: command.name, outcome: 'approval_requested' });
      const text = `\`/cdb ${command.name}\` needs a second person’s approval. I posted the request in this channel (request \`${record.id}\`); it expires ${slackDate(record.expiresAt)}. You can cancel it there.`;
      return { requestId: record.id, ephemeral: { text: `:lock: ${text}` }, plain: plainText(text), enqueued: false, ok: true };
    }
    const envelope: JobEnvelope = { requestId, command: command.name, args, actor: req.actor, origin: req.origin, requestedAt: started, ...(target ? { target } : {}) };
    // Before the early ack: a target without a live worker is refused in the ack itself (one Redis round trip).
    if (deps.jobs instanceof JobRouter) await deps.jobs.assertLive(target);
    const text = `\`/cdb ${command.name}\`${target ? ` on \`${target}\`` : ''} is on its way (request \`${requestId}\`). The result will be posted here.`;
    const accepted: DispatchOutcome = { requestId, ephemeral: { text: `:hourglass_flowing_sand: ${text}` }, plain: plainText(text), enqueued: true, ok: true };
    // The job id is the request id: a retried enqueue of the same request cannot run twice.
    // A user's job carries a priority; alert ticks, schedules and approved jobs carry none, and BullMQ
    // takes those first, so a flood of commands never queues ahead of them (docs/security.md).
    // The router puts it on its target's queue, after the target's liveness check.
    const opts = { jobId: requestId, priority: deps.config.security.userJobPriority, removeOnComplete: 1000, removeOnFail: 5000 };
    if (deps.onAccepted) {
      deps.onAccepted(accepted);
      // Crash tests stop the bot here: acked, not queued (the accepted record covers it).
      await pausePoint('bot:acked');
    }
    await (deps.onAccepted && deps.postAck ? deps.postAck.enqueue(deps.jobs, jobOf(command, parsed), envelope, opts) : enqueue(deps.jobs, jobOf(command, parsed), envelope, opts));
    await deps.audit.record({ requestId, command: command.name, args, actor: req.actor, via, outcome: 'accepted' });
    log.info({ cmd: command.name }, 'job enqueued');
    commandsTotal.inc({ command: command.name, outcome: 'accepted' });
    return accepted;
  } catch (err) {
    const user = toUserError(err, requestId);
    if (user.code === 'INTERNAL') log.error({ err }, 'dispatch failed');
    await deps.audit.record({ requestId, command: commandName, args, actor: req.actor, via, outcome: 'rejected', code: user.code, durationMs: Date.now() - started });
    commandsTotal.inc({ command: commandLabel(commandName, (n) => deps.registry.has(n)), outcome: 'rejected' });
    return { requestId, ephemeral: { text: `:warning: ${user.message}` }, plain: `✗ ${plainText(user.message)}`, enqueued: false, ok: false };
  }
}
