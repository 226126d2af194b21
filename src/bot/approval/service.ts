import { enqueue, type JobsQueue } from '../job-router.ts';
import type { Redis } from 'ioredis';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { Config } from '../../shared/config/schema.ts';
import type { Actor, JobEnvelope, Origin } from '../../shared/contracts/envelope.ts';
import { OpsError } from '../../shared/errors.ts';
import type { AuditLog, AuditOutcome } from '../../shared/audit/audit.ts';
import type { GroupDirectory } from '../../shared/auth/authorize.ts';
import { jobOf, type AnyCommand } from '../../shared/registry/define-command.ts';
import type { Registry } from '../../shared/registry/registry.ts';
import { approvalDigest } from '../../shared/approval/digest.ts';
import { approvalMessage } from '../../shared/approval/message.ts';
import { defang } from '../../shared/render/blocks.ts';
import { approvalSettings } from '../../shared/approval/policy.ts';
import { approvalsTotal } from '../../shared/metrics.ts';
import { runApprovalPlan } from './plan.ts';
import type { StepUpGate } from './step-up-gate.ts';
import { newApprovalId, type ApprovalStore } from '../../shared/approval/store.ts';
import { APPROVAL_ID, type ApprovalReader, type ApprovalRecord, type Person } from '../../shared/approval/types.ts';

export interface ApprovalServiceDeps {
  readonly config: Config;
  readonly registry: Registry;
  readonly jobs: JobsQueue;
  /** The bot's Redis connection (plans read the queue's event stream position with it). */
  readonly redis: Redis;
  readonly audit: AuditLog;
  readonly log: Logger;
  readonly store: ApprovalStore;
  readonly client: WebClient;
  /** Role lookups; the bot's directory also refreshes the worker's group mirror. */
  readonly groups: GroupDirectory;
  /** Step-up codes for the commands configured in security.stepUp.commands. */
  readonly stepUp?: StepUpGate;
}

/** What dispatch needs: create a request, and read requests for `/cdb approvals`. */
export interface ApprovalGateway {
  request(command: AnyCommand, args: Record<string, unknown>, actor: Actor, origin: Origin, target?: string): Promise<ApprovalRecord>;
  readonly reader: ApprovalReader;
}

export const SYSTEM_ACTOR: Actor = { userId: 'local:cdb-bot', teamId: 'local', name: 'approval sweeper' };

const MAX_SUMMARY = 60;

/** The request's arguments with what the plan pins (e.g. its fingerprint), checked by the command's schema. */
function pinned(command: AnyCommand, args: Record<string, unknown>, pin: Record<string, unknown>): Record<string, unknown> {
  if (!Object.keys(pin).length) return args;
  const parsed = command.args.safeParse({ ...args, ...pin });
  if (!parsed.success) throw new Error(`${command.name}: the plan pinned arguments its schema rejects`);
  return parsed.data as Record<string, unknown>;
}

function summaryOf(command: AnyCommand, args: Record<string, unknown>): string[] {
  try {
    return (command.approvalSummary?.(args) ?? []).slice(0, MAX_SUMMARY).map((l) => String(l).slice(0, 500));
  } catch {
    return ['(the command could not describe this run; check its arguments carefully)'];
  }
}

/**
 * The bot side of two-person approval: posts requests, renders their message as the state moves,
 * enqueues the job exactly when a request becomes approved, and writes each transition to the audit
 * stream. Click handling is in actions.ts, the periodic work in sweeper.ts.
 */
export class ApprovalService implements ApprovalGateway {
  constructor(readonly deps: ApprovalServiceDeps) {}

  get reader(): ApprovalReader {
    return this.deps.store;
  }

  /** A real, current member of the workspace the request belongs to: not a bot, app or deleted user. */
  async verifyHuman(person: Person): Promise<string | undefined> {
    try {
      const res = await this.deps.client.users.info({ user: person.userId });
      const u = res.user;
      if (!u || u.id !== person.userId) return 'Slack does not know this user';
      if (u.is_bot || u.is_app_user) return 'bots and apps cannot take part in approvals';
      if (u.deleted) return 'deactivated users cannot take part in approvals';
      if (u.team_id !== person.teamId) return 'users of another workspace cannot take part in approvals';
      return undefined;
    } catch (err) {
      this.deps.log.warn({ err, user: person.userId }, 'users.info failed; refusing');
      return 'Slack could not confirm who you are right now; try again in a minute';
    }
  }

  async request(command: AnyCommand, args: Record<string, unknown>, actor: Actor, origin: Origin, target?: string): Promise<ApprovalRecord> {
    if (command.kind !== 'job') throw new Error(`${command.name} is not a job command`);
    const channel = origin.channel;
    if (origin.kind !== 'slack' || !channel) {
      throw new OpsError('APPROVAL_REQUIRED', `\`${command.name}\` needs a second person’s approval, which is given in Slack: run \`/cdb ${command.name}\` in a Slack channel. Nothing was changed.`);
    }
    if (!/^[CG][A-Z0-9]{2,}$/.test(channel)) {
      throw new OpsError('APPROVAL_REQUIRED', `\`${command.name}\` needs a second person’s approval: run it in a channel where approvers can see the request, not in a direct message. Nothing was changed.`);
    }
    const refusal = await this.verifyHuman(actor);
    if (refusal) throw new OpsError('UNKNOWN_ACTOR', `You cannot request \`${command.name}\`: ${refusal}.`);

    const { store } = this.deps;
    const planned = await runApprovalPlan(this.deps.jobs, this.deps.redis, command, args, actor, channel, undefined, target);
    const approvedArgs = planned ? pinned(command, args, planned.pin) : args;
    const { required, expiryMs } = approvalSettings(command.name, this.deps.config);
    const id = newApprovalId();
    const now = await store.now();
    const requester = { userId: actor.userId, teamId: actor.teamId, name: actor.name };
    const base = { id, command: command.name, job: jobOf(command, approvedArgs), args: approvedArgs, requester, channel, ...(target ? { target } : {}) };
    const summary = [...(target ? [`Target: ${target}`] : []), ...(planned?.lines ?? []), ...summaryOf(command, approvedArgs)].slice(0, MAX_SUMMARY).map((l) => l.slice(0, 500));
    const record: ApprovalRecord = {
      v: 1, ...base, state: 'pending', digest: approvalDigest(base), summary,
      required, createdAt: now, expiresAt: now + expiryMs, approvals: [],
    };
    await store.create(record);
    let ts: string | undefined;
    try {
      const message = defang(approvalMessage(record));
      const posted = await this.deps.client.chat.postMessage({ channel, text: message.text, blocks: message.blocks, unfurl_links: false });
      ts = posted.ts;
    } catch (err) {
      this.deps.log.warn({ err, approvalId: id }, 'approval request not posted');
    }
    const withTs = ts ? await store.apply(id, { type: 'posted', messageTs: ts }) : undefined;
    if (!withTs?.found || withTs.outcome !== 'posted') {
      const failed = await store.apply(id, { type: 'abort', reason: 'the approval request could not be posted' });
      if (failed.found) await this.record(failed.record, 'failed', SYSTEM_ACTOR, 'not posted');
      throw new OpsError('APPROVAL_REQUIRED', `I could not post the approval request in this channel. Invite the app here (\`/invite @cdb\`) and try again. Nothing was changed.`);
    }
    await this.record(withTs.record, 'requested', actor);
    return withTs.record;
  }

  /** Re-renders the request's message from its current state (buttons only while pending). */
  async refresh(record: ApprovalRecord): Promise<ApprovalRecord> {
    if (!record.messageTs) return record;
    const message = defang(approvalMessage(record));
    try {
      await this.deps.client.chat.update({ channel: record.channel, ts: record.messageTs, text: message.text, blocks: message.blocks });
    } catch (err) {
      this.deps.log.warn({ err, approvalId: record.id }, 'approval message not updated');
    }
    return record;
  }

  /**
   * For late clicks: re-render in case the update at decision time was lost, at most once a minute
   * per request, so a burst of late clicks does not become a burst of chat.update calls.
   */
  async heal(record: ApprovalRecord): Promise<void> {
    const first = await this.deps.store.redis.set(`${this.deps.store.key(record.id)}:healed`, '1', 'EX', 60, 'NX');
    if (first === 'OK') await this.refresh(record);
  }

  /** After a worker reply: the root message shows how an approved request ended. */
  async refreshById(requestId: string): Promise<void> {
    if (!APPROVAL_ID.test(requestId)) return;
    const record = await this.deps.store.get(requestId);
    if (record) await this.refresh(record);
  }

  /** The job id is the request id: enqueuing twice (a retry, the sweeper) still gives one job. */
  async enqueue(r: ApprovalRecord): Promise<void> {
    const envelope: JobEnvelope = {
      requestId: r.id,
      command: r.command,
      args: r.args,
      actor: r.requester,
      origin: { kind: 'slack', channel: r.channel, threadTs: r.messageTs },
      requestedAt: r.createdAt,
      approval: { id: r.id, approvers: r.approvals.map((a) => ({ userId: a.userId, teamId: a.teamId })) },
      ...(r.target ? { target: r.target } : {}),
    };
    await enqueue(this.deps.jobs, r.job, envelope, { jobId: r.id, removeOnComplete: 1000, removeOnFail: 5000 });
    this.deps.log.info({ approvalId: r.id, cmd: r.command }, 'approved job enqueued');
  }

  async record(r: ApprovalRecord, outcome: AuditOutcome, actor: Actor, reason = r.reason, code?: string): Promise<void> {
    approvalsTotal.inc({ outcome });
    await this.deps.audit.record({
      requestId: r.id, command: r.command, args: r.args, actor, via: actor === SYSTEM_ACTOR ? 'sweeper' : 'slack', outcome, code,
      approval: { id: r.id, state: r.state, approvers: r.approvals.map((a) => a.userId), reason },
    });
  }

  async ephemeral(channel: string, user: string, text: string): Promise<void> {
    try {
      await this.deps.client.chat.postEphemeral({ channel, user, text: defang(text) });
    } catch (err) {
      this.deps.log.warn({ err, user }, 'ephemeral answer not delivered');
    }
  }
}
