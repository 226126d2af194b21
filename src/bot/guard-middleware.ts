import type { AnyMiddlewareArgs, Middleware } from '@slack/bolt';
import type { Logger } from 'pino';
import type { Config } from '../shared/config/schema.ts';
import type { AuditLog } from '../shared/audit/audit.ts';
import type { Actor } from '../shared/contracts/envelope.ts';
import { RequestGuard, subcommandWord, type GuardInput, type GuardVerdict } from './request-guard.ts';
import { newRequestId } from './dispatch.ts';
import { acceptedRecord, awaitingKey } from './awaited-jobs.ts';

/** Context keys the receivers' customPropertiesExtractor sets (http: the signed request; socket: the envelope). */
export const REPLAY_ID = 'cdbReplayId';
export const ENVELOPE_ID = 'cdbEnvelopeId';
/** Context key of a slash command's request id, chosen here so the accepted record carries it. */
export const REQUEST_ID = 'cdbRequestId';

export interface GuardDeps {
  readonly config: Config;
  readonly guard: RequestGuard;
  readonly audit: AuditLog;
  readonly log: Logger;
  /** Key prefix of state (keyPrefix(config)): where the accepted records live. */
  readonly keyPrefix: string;
}

type Json = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

function actorOf(body: Json): Actor {
  const user = body.user as Json | undefined;
  const team = body.team as Json | undefined;
  const userId = str(body.user_id) ?? str(user?.id) ?? 'unknown';
  const teamId = str(body.team_id) ?? str(team?.id) ?? str(user?.team_id) ?? 'unknown';
  return { userId, teamId };
}

function limitedText(v: Extract<GuardVerdict, { kind: 'limited' }>, name: string, windowSeconds: number): string {
  const seconds = Math.max(1, Math.ceil(v.retryAfterMs / 1000));
  const at = Math.floor((Date.now() + v.retryAfterMs) / 1000);
  const per = windowSeconds === 60 ? 'a minute' : windowSeconds === 3600 ? 'an hour' : `${windowSeconds} s`;
  const what = v.scope === 'command' ? `\`/cdb ${name}\` is limited to ${v.limit} runs per person in ${per}` : `You can run ${v.limit} commands in ${per}`;
  return `:stopwatch: Slow down: ${what}. Try again in ${seconds} s (<!date^${at}^at {time_secs}|at ${new Date(at * 1000).toISOString()}>). Nothing was queued.`;
}

/** What the guard reads of one request, from either Bolt's context or the HTTP fast path. */
export interface GuardedRequest {
  readonly body: Json;
  readonly replayId?: string;
  readonly envelopeId?: string;
  readonly retryNum?: number;
  readonly retryReason?: unknown;
  /** Answers Slack; a refused request is acked here (empty for a duplicate, the reason when limited). */
  readonly ack?: (response?: unknown) => Promise<void>;
}

/**
 * One Redis call decides replay (signed request, Socket Mode envelope, event id) and the rate limits
 * of slash commands. Duplicates are acknowledged with an empty 200 and dropped; a limited command
 * gets its ephemeral answer as the ack. Both are audited after the ack, never before it. Resolves
 * with the slash command's request id when the request may go on, or `false` when it was answered.
 */
export function requestGuard(deps: GuardDeps): (req: GuardedRequest) => Promise<{ requestId?: string } | false> {
  const { config, guard, audit } = deps;
  const log = deps.log.child({ component: 'request-guard' });
  return async ({ body, replayId, envelopeId, retryNum, retryReason, ack }) => {
    const isCommand = str(body.command) === config.slack.command && typeof body.user_id === 'string';
    const name = isCommand ? subcommandWord(String(body.text ?? '')) : undefined;
    // A slash command that passes is recorded as accepted in the same call (request-guard.ts).
    const requestId = isCommand && name ? newRequestId() : undefined;
    const input: GuardInput = {
      request: replayId ? { kind: 'request', id: replayId } : envelopeId ? { kind: 'envelope', id: envelopeId } : undefined,
      eventId: body.type === 'event_callback' ? str(body.event_id) : undefined,
      command: isCommand && name ? { userId: String(body.user_id), name } : undefined,
      accept: requestId && name ? { key: awaitingKey(deps.keyPrefix), ...acceptedRecord(requestId, name, { kind: 'slack', channel: str(body.channel_id) }) } : undefined,
    };
    const verdict = await guard.check(input);
    if (verdict.kind === 'ok') return { requestId };

    const actor = actorOf(body);
    const what = name ?? str(body.type) ?? 'request';
    if (verdict.kind === 'duplicate') {
      await ack?.();
      if (verdict.what === 'event' && retryNum !== undefined) {
        // Slack's own retry of an event we already took: expected, not an attack.
        log.info({ eventId: input.eventId, retry: retryNum, reason: retryReason }, 'Slack retry of a handled event dropped');
        return false;
      }
      log.warn({ what: verdict.what, user: actor.userId, type: what }, 'replayed request dropped');
      await audit.record({ requestId: newRequestId(), command: what, args: {}, actor, via: 'slack', outcome: 'rejected', code: 'REPLAYED' });
      return false;
    }
    await ack?.({ response_type: 'ephemeral', text: limitedText(verdict, what, config.security.rateLimits.windowSeconds) });
    log.info({ user: actor.userId, cmd: what, scope: verdict.scope, retryAfterMs: verdict.retryAfterMs }, 'command rate-limited');
    await audit.record({ requestId: newRequestId(), command: what, args: {}, actor, via: 'slack', outcome: 'rejected', code: 'RATE_LIMITED' });
    return false;
  };
}

/** The guard as Bolt's global middleware, first in line for every request of either transport. */
export function guardMiddleware(deps: GuardDeps): Middleware<AnyMiddlewareArgs> {
  const check = requestGuard(deps);
  return async (args) => {
    const context = args.context as Json;
    const passed = await check({
      body: args.body as unknown as Json,
      replayId: str(context[REPLAY_ID]),
      envelopeId: str(context[ENVELOPE_ID]),
      retryNum: typeof context.retryNum === 'number' ? context.retryNum : undefined,
      retryReason: context.retryReason,
      ack: 'ack' in args && typeof args.ack === 'function' ? (args.ack as (r?: unknown) => Promise<void>) : undefined,
    });
    if (!passed) return;
    if (passed.requestId) context[REQUEST_ID] = passed.requestId;
    await args.next();
  };
}
