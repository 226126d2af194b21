import { createServer, type Server } from 'node:http';
import { App, HTTPReceiver, SocketModeReceiver } from '@slack/bolt';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import { OpsError } from '../shared/errors.ts';
import type { AuditLog } from '../shared/audit/audit.ts';
import type { Registry } from '../shared/registry/registry.ts';
import { boltLogger } from './bolt-logger.ts';
import type { JobsQueue } from './job-router.ts';
import { slackGroupDirectory } from './group-directory.ts';
import { keyPrefix, redisErrorReporter } from '../shared/queue/names.ts';
import { handleApprovalAction } from './approval/actions.ts';
import { mirroringDirectory } from '../shared/approval/group-mirror.ts';
import { ACTION_IDS } from '../shared/approval/message.ts';
import { ApprovalService } from './approval/service.ts';
import { ApprovalStore } from '../shared/approval/store.ts';
import { registerAlertActions } from './alert-actions.ts';
import { signedGate } from './http-gate.ts';
import { ENVELOPE_ID, REPLAY_ID, REQUEST_ID, guardMiddleware, requestGuard } from './guard-middleware.ts';
import { fastSlashCommands } from './command-fast-path.ts';
import { slashCommandHandler } from './slash-command.ts';
import { PostAck } from './post-ack.ts';
import { InFlight } from './in-flight.ts';
import { RequestGuard, signedRequestId } from './request-guard.ts';
import { TotpVault } from './totp-vault.ts';
import { StepUp } from './step-up.ts';

/**
 * The Web API client's own retries, bounded: its default is 10 retries over about 30 minutes, which
 * inside a reply delivery would hold that thread for half an hour. The reply consumer retries a
 * delivery a few more times itself (reply-consumer.ts), and each call gives up after `timeout`.
 */
/** How long a graceful stop waits for acked commands to finish their enqueue and answer. */
export const CLOSE_DRAIN_MS = 5000;

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
  /** HTTP mode: the server Slack posts to, with the signed-request gate in front of Bolt. */
  listen?(port: number): Promise<Server>;
  /** Closes what the app opened besides Bolt (the ack path's Redis connection). */
  close(): Promise<void>;
}

function requireSecret(value: string | undefined, name: string): string {
  if (!value) throw new OpsError('CONFIG_INVALID', `${name} is not set. Set ${name}_FILE to a file holding it (or ${name} for local use).`);
  return value;
}

/** Step-up codes need the key that encrypts their secrets; commands configured without it fail closed. */
function createStepUp(config: Config, redis: Redis, app: App, deps: BotDeps): StepUp | undefined {
  const key = config.secrets.stepUpKey;
  if (!key) {
    if (config.security.stepUp.commands.length) {
      throw new OpsError('CONFIG_INVALID', `security.stepUp.commands lists ${config.security.stepUp.commands.join(', ')}, but CDB_STEPUP_KEY_FILE is not set: one-time code secrets need a key to be stored encrypted.`);
    }
    return undefined;
  }
  const vault = new TotpVault(redis, keyPrefix(config), key, config.security.stepUp);
  return new StepUp({ config, vault, client: app.client, audit: deps.audit, log: deps.log });
}

export function createSlackApp(deps: BotDeps): SlackApp {
  const { config, log, redis } = deps;
  const token = requireSecret(config.secrets.slackBotToken, 'SLACK_BOT_TOKEN');
  const clientOptions = { ...(config.slack.apiUrl ? { slackApiUrl: config.slack.apiUrl } : {}), ...SLACK_CLIENT_LIMITS };
  const logger = boltLogger(log);
  const signingSecret = config.slack.mode === 'http' ? requireSecret(config.secrets.slackSigningSecret, 'SLACK_SIGNING_SECRET') : '';
  const receiver =
    config.slack.mode === 'http'
      ? new HTTPReceiver({
        signingSecret,
        // The signed gate in front (http-gate.ts) checked signature and timestamp of every request that
        // reaches Bolt's endpoint: a second HMAC per request would only slow the ack.
        signatureVerification: false,
        logger,
        customPropertiesExtractor: (req) => ({ [REPLAY_ID]: signedRequestId(String(req.headers['x-slack-signature'])) }),
        // A listener that throws is a bug of ours, logged once by app.error; Slack gets no 500 for it.
        processEventErrorHandler: async ({ response }) => {
          if (!response.headersSent) { response.writeHead(400); response.end(); }
          return false;
        },
      })
      : new SocketModeReceiver({
        appToken: requireSecret(config.secrets.slackAppToken, 'SLACK_APP_TOKEN'),
        logger,
        installerOptions: { clientOptions },
        customPropertiesExtractor: (args) => ({ [ENVELOPE_ID]: typeof args.envelope_id === 'string' ? args.envelope_id : undefined }),
      });
  // convoStore off: no listener reads Bolt's conversation context, and its store lookup ran per request.
  const app = new App({ token, logger, clientOptions, receiver, convoStore: false });
  // First of all middleware: replays are dropped and rate limits applied before any listener runs.
  // The ack's one Redis call goes through its own connection with auto-pipelining: the guard calls of
  // a burst leave in a few socket writes instead of one each (BENCHMARKS.md, ack).
  const ackRedis = redis.duplicate({ enableAutoPipelining: true });
  ackRedis.on('error', redisErrorReporter(redis, log));
  const guardDeps = { config, guard: new RequestGuard(ackRedis, keyPrefix(config), config.security), audit: deps.audit, log, keyPrefix: keyPrefix(config) };
  app.use(guardMiddleware(guardDeps));
  const postAck = new PostAck();

  // Every membership the bot learns is mirrored to Redis for the worker's role re-check.
  const groups = mirroringDirectory(slackGroupDirectory(app.client, log), redis, keyPrefix(config), (err) => log.warn({ err }, 'group mirror not written'));
  const store = new ApprovalStore(redis, keyPrefix(config));
  const stepUp = createStepUp(config, redis, app, deps);
  const approvals = new ApprovalService({ config, registry: deps.registry, jobs: deps.jobs, redis, audit: deps.audit, log, store, client: app.client, groups, stepUp });
  stepUp?.register(app, approvals);
  registerAlertActions(app, { ...deps, groups, approvals });

  const inFlight = new InFlight();
  const handleSlash = slashCommandHandler({ ...deps, groups, approvals, stepUp, postAck });
  const handleCommand: typeof handleSlash = (command, io) => inFlight.track(handleSlash(command, io));
  // Socket Mode's slash commands (HTTP ones are answered by the gate's fast path, below).
  app.command(config.slack.command, async ({ command, ack, respond, context }) => {
    const requestId = typeof context[REQUEST_ID] === 'string' ? context[REQUEST_ID] : undefined;
    await handleCommand(command, { requestId, ack, respond });
  });

  // Approve / Deny / Cancel: acknowledged at once, then decided against the record in Redis.
  app.action({ type: 'block_actions', action_id: new RegExp(`^(${ACTION_IDS.join('|')})$`) }, async ({ ack, body }) => {
    await ack();
    await handleApprovalAction(approvals, body).catch((err: unknown) => log.error({ err }, 'approval click failed'));
  });

  app.error(async (err) => {
    log.error({ err: { message: err.message, code: err.code } }, 'unhandled Slack app error');
  });
  const listen =
    receiver instanceof HTTPReceiver
      ? async (port: number): Promise<Server> => {
        const slashCommand = { command: config.slack.command, handle: fastSlashCommands({ guard: requestGuard(guardDeps), handle: handleCommand, log }) };
        const gate = signedGate({ signingSecret, log, slashCommand, onRequest: (res) => {
          const end = postAck.begin();
          res.once('finish', end).once('close', end);
        } }, (req, res) => {
          try {
            receiver.requestListener(req, res);
          } catch {
            if (!res.headersSent) { res.writeHead(404); res.end(); }
          }
        });
        const server = createServer(gate);
        await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, () => resolve()));
        return server;
      }
      : undefined;
  const close = async (): Promise<void> => {
    await inFlight.drain(CLOSE_DRAIN_MS);
    if (inFlight.size) log.warn({ commands: inFlight.size }, 'stopping with acked commands still unfinished; the next bot tells their requesters');
    await ackRedis.quit().catch(() => ackRedis.disconnect());
  };
  return { app, approvals, listen, close };
}
