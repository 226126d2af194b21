import { App } from '@slack/bolt';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import { OpsError } from '../shared/errors.ts';
import type { AuditLog } from '../shared/audit/audit.ts';
import type { Registry } from '../shared/registry/registry.ts';
import { boltLogger } from './bolt-logger.ts';
import type { JobsQueue } from './job-router.ts';
import { dispatch, type DispatchOutcome } from './dispatch.ts';
import { slackGroupDirectory } from './group-directory.ts';
import { keyPrefix } from '../shared/queue/names.ts';
import { handleApprovalAction } from './approval/actions.ts';
import { mirroringDirectory } from '../shared/approval/group-mirror.ts';
import { ACTION_IDS } from '../shared/approval/message.ts';
import { ApprovalService } from './approval/service.ts';
import { ApprovalStore } from '../shared/approval/store.ts';
import { registerAlertActions } from './alert-actions.ts';
import { defang } from '../shared/render/blocks.ts';
import { ackSeconds } from '../shared/metrics.ts';

/** Slack wants an answer within 3 s; anything slower is acked first and answered through response_url. */
export const ACK_BUDGET_MS = 2000;

/**
 * The Web API client's own retries, bounded: its default is 10 retries over about 30 minutes, which
 * inside a reply delivery would hold that thread for half an hour. The reply consumer retries a
 * delivery a few more times itself (reply-consumer.ts), and each call gives up after `timeout`.
 */
export const SLACK_CLIENT_LIMITS = {
  retryConfig: { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 2000, maxRetryTime: 8000, randomize: true },
  timeout: 15_000,
} as const;

export interface BotDeps {
  readonly config: Config;
  readonly registry: Registry;
  readonly jobs: JobsQueue;
  readonly audit: AuditLog;
  readonly log: Logger;
  readonly redis: Redis;
}

export interface SlackApp {
  readonly app: App;
  readonly approvals: ApprovalService;
}

function requireSecret(value: string | undefined, name: string): string {
  if (!value) throw new OpsError('CONFIG_INVALID', `${name} is not set. Set ${name}_FILE to a file holding it (or ${name} for local use).`);
  return value;
}

export function createSlackApp(deps: BotDeps): SlackApp {
  const { config, log, redis } = deps;
  const token = requireSecret(config.secrets.slackBotToken, 'SLACK_BOT_TOKEN');
  const clientOptions = { ...(config.slack.apiUrl ? { slackApiUrl: config.slack.apiUrl } : {}), ...SLACK_CLIENT_LIMITS };
  const common = { token, logger: boltLogger(log), clientOptions };
  const app =
    config.slack.mode === 'http'
      ? new App({ ...common, signingSecret: requireSecret(config.secrets.slackSigningSecret, 'SLACK_SIGNING_SECRET'), port: config.slack.port })
      : new App({ ...common, socketMode: true, appToken: requireSecret(config.secrets.slackAppToken, 'SLACK_APP_TOKEN') });

  // Every membership the bot learns is mirrored to Redis for the worker's role re-check.
  const groups = mirroringDirectory(slackGroupDirectory(app.client, log), redis, keyPrefix(config), (err) => log.warn({ err }, 'group mirror not written'));
  const store = new ApprovalStore(redis, keyPrefix(config));
  const approvals = new ApprovalService({ config, registry: deps.registry, jobs: deps.jobs, redis, audit: deps.audit, log, store, client: app.client, groups });
  registerAlertActions(app, { ...deps, groups, approvals });

  app.command(config.slack.command, async ({ command, ack: sendAck, respond }) => {
    const stopTimer = ackSeconds.startTimer();
    const ack: typeof sendAck = (response) => sendAck(response).finally(() => stopTimer());
    // A job command is acked as soon as it is validated and authorised (onAccepted), before its
    // enqueue and audit round trips; a failure there follows through response_url.
    let early: (o: DispatchOutcome) => void = () => undefined;
    const accepted = new Promise<DispatchOutcome>((resolve) => {
      early = resolve;
    });
    const pending: Promise<DispatchOutcome> = dispatch(
      {
        text: command.text,
        actor: { userId: command.user_id, teamId: command.team_id, name: command.user_name },
        origin: { kind: 'slack', channel: command.channel_id },
      },
      { ...deps, groups, approvals, onAccepted: (o) => early(o) },
    );
    let budget: NodeJS.Timeout | undefined;
    const quick = await Promise.race([pending, accepted, new Promise<null>((r) => (budget = setTimeout(() => r(null), ACK_BUDGET_MS)))]);
    clearTimeout(budget);
    if (quick) {
      await ack(defang({ response_type: 'ephemeral', ...quick.ephemeral }));
      const final = await pending;
      if (final !== quick && !final.ok) await respond(defang({ response_type: 'ephemeral', replace_original: true, ...final.ephemeral }));
      return;
    }
    await ack({ response_type: 'ephemeral', text: ':hourglass_flowing_sand: Working on it…' });
    const outcome = await pending;
    await respond(defang({ response_type: 'ephemeral', replace_original: true, ...outcome.ephemeral }));
  });

  // Approve / Deny / Cancel: acknowledged at once, then decided against the record in Redis.
  app.action({ type: 'block_actions', action_id: new RegExp(`^(${ACTION_IDS.join('|')})$`) }, async ({ ack, body }) => {
    await ack();
    await handleApprovalAction(approvals, body).catch((err: unknown) => log.error({ err }, 'approval click failed'));
  });

  app.error(async (err) => {
    log.error({ err: { message: err.message, code: err.code } }, 'unhandled Slack app error');
  });
  return { app, approvals };
}
