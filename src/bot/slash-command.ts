import type { Redis } from 'ioredis';
import type { SlackMessage } from '../shared/registry/define-command.ts';
import { defang } from '../shared/render/blocks.ts';
import { ackSeconds } from '../shared/metrics.ts';
import { keyPrefix } from '../shared/queue/names.ts';
import { dispatch, type DispatchDeps, type DispatchOutcome } from './dispatch.ts';
import { awaitingKey } from './awaited-jobs.ts';

/** Slack wants an answer within 3 s; anything slower is acked first and answered through response_url. */
export const ACK_BUDGET_MS = 2000;

/** The fields of a slash command the bot reads (Slack's form fields, as Bolt and the fast path see them). */
export interface SlashCommandFields {
  readonly text: string;
  readonly user_id: string;
  readonly team_id: string;
  readonly channel_id: string;
  readonly user_name?: string;
}

type Reply = SlackMessage & { response_type: 'ephemeral'; replace_original?: boolean };

/** How one transport answers: the ack (the HTTP response or the Socket Mode envelope) and response_url. */
export interface SlashCommandIo {
  /** Chosen by the request guard: the id the accepted record and the ack carry. */
  readonly requestId?: string;
  ack(reply: Reply): Promise<void>;
  respond(reply: Reply): Promise<unknown>;
}

/**
 * `/cdb …` from either transport. A job command is acked as soon as it is validated and authorised
 * (onAccepted), before its enqueue and audit round trips; a failure there follows through
 * response_url. Anything slower than ACK_BUDGET_MS is acked "working on it" and answered later.
 */
export function slashCommandHandler(deps: DispatchDeps & { readonly redis: Redis }): (command: SlashCommandFields, io: SlashCommandIo) => Promise<void> {
  const awaiting = awaitingKey(keyPrefix(deps.config));
  return async (command, io) => {
    const { requestId } = io;
    const stopTimer = ackSeconds.startTimer();
    const ack = (reply: Reply) => io.ack(reply).finally(() => stopTimer());
    let early: (o: DispatchOutcome) => void = () => undefined;
    const accepted = new Promise<DispatchOutcome>((resolve) => {
      early = resolve;
    });
    const pending: Promise<DispatchOutcome> = dispatch(
      {
        requestId,
        text: command.text,
        actor: { userId: command.user_id, teamId: command.team_id, name: command.user_name },
        origin: { kind: 'slack', channel: command.channel_id },
      },
      { ...deps, onAccepted: (o) => early(o) },
    );
    // The accepted record the ack wrote is the lost-job watch's once the job is queued; an answer,
    // a refusal or a failed enqueue has nothing to wait for.
    const forget = pending.then((o) => (o.enqueued || !requestId ? undefined : deps.redis.hdel(awaiting, requestId))).catch(() => undefined);
    let budget: NodeJS.Timeout | undefined;
    const quick = await Promise.race([pending, accepted, new Promise<null>((r) => (budget = setTimeout(() => r(null), ACK_BUDGET_MS)))]);
    clearTimeout(budget);
    if (quick) {
      await ack(defang({ response_type: 'ephemeral', ...quick.ephemeral }));
      const final = await pending;
      if (final !== quick && !final.ok) await io.respond(defang({ response_type: 'ephemeral', replace_original: true, ...final.ephemeral }));
    } else {
      await ack({ response_type: 'ephemeral', text: ':hourglass_flowing_sand: Working on it…' });
      const outcome = await pending;
      await io.respond(defang({ response_type: 'ephemeral', replace_original: true, ...outcome.ephemeral }));
    }
    // The handler ends with its last Redis call, so a graceful stop that waits for it loses nothing.
    await forget;
  };
}
