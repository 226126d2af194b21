// A job's answer reaches Slack in one of two ways: posted (chat.postMessage) when the job is quick, or
// as a chat.update of the progress message the bot posted after 2 s. Tests must not care which: they
// wait for the final state of the request's message in the stand-in, whichever call produced it.
import type { SlackMessage, SlackStandin } from './slack-standin.ts';
import { waitFor } from './compose-stack.ts';

/** The request id the bot's ephemeral ack names ("… (request `X`) …"). */
export function requestIdOf(ackText: string): string {
  const id = /request `([A-Za-z0-9_-]{6,64})`/.exec(ackText)?.[1];
  if (!id) throw new Error(`no request id in the answer: ${ackText}`);
  return id;
}

/** Text and blocks of a message as one string, for matching. */
export function flatText(m: Pick<SlackMessage, 'text' | 'blocks'>): string {
  return `${m.text}\n${JSON.stringify(m.blocks ?? [])}`;
}

export interface FinalReplyOptions {
  /** Only a final message whose text and blocks match (e.g. wait for a specific outcome). */
  readonly match?: RegExp;
  readonly channel?: string;
  readonly timeoutMs?: number;
}

/**
 * The final message of request `requestId`, whether it was posted or updated in place: the bot's
 * result and error renderings end with a footer naming the request (`request \`<id>\``), progress
 * messages never do (nor does an approval request's own message), so the first message that carries it
 * is the answer in its final form.
 */
export function waitForFinalReply(slack: SlackStandin, requestId: string, opts: FinalReplyOptions = {}): Promise<SlackMessage> {
  // The reply footer is `request \`<id>\` · 1.2 s`; an approval request's own message names the id too, with its digest.
  // Ids are [A-Za-z0-9_-]: nothing in them is special in a RegExp.
  const footer = new RegExp(`request \`${requestId}\` · \\d+\\.\\d s`);
  return waitFor(
    () =>
      [...slack.messages.values()].find((m) => {
        if (opts.channel && m.channel !== opts.channel) return false;
        const text = flatText(m);
        return footer.test(text) && (!opts.match || opts.match.test(text));
      }),
    { what: `the final reply of request ${requestId}${opts.match ? ` matching ${opts.match}` : ''}`, timeoutMs: opts.timeoutMs ?? 120_000 },
  );
}

/** Sends a slash command through `send` and waits for the final reply of the request its ack names. */
export async function finalReplyTo(slack: SlackStandin, send: () => Promise<Response>, opts: FinalReplyOptions = {}): Promise<SlackMessage> {
  const res = await send();
  if (res.status !== 200) throw new Error(`the slash command was answered with HTTP ${res.status}`);
  const ack = (await res.json()) as { text?: string };
  return waitForFinalReply(slack, requestIdOf(String(ack.text)), opts);
}
