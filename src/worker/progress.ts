import type { Logger } from 'pino';
import type { JobEnvelope } from '../shared/contracts/envelope.ts';
import type { ReplyQueue } from './reply-queue.ts';

/** After this long without a result the requester sees a progress message. */
export const PROGRESS_AFTER_MS = 2000;
const PROGRESS_THROTTLE_MS = 1000;

export interface Progress {
  /** What the job says it is doing; sent once the job has run PROGRESS_AFTER_MS, at most once a second. */
  report(text: string): void;
  /** The job is over: nothing more is sent. */
  stop(): void;
}

/** Progress for one run: quick jobs say nothing, slow ones keep the requester informed. */
export function startProgress(env: JobEnvelope, replies: ReplyQueue, log: Logger): Progress {
  const started = Date.now();
  let lastSent = 0;
  let latest = `Working on \`${env.command}\`…`;
  let done = false;
  const report = (text: string) => {
    latest = text.slice(0, 400);
    const now = Date.now();
    if (done || now - started < PROGRESS_AFTER_MS || now - lastSent < PROGRESS_THROTTLE_MS) return;
    lastSent = now;
    void replies.send({ type: 'progress', requestId: env.requestId, command: env.command, origin: env.origin, text: latest }).catch((err: unknown) => log.warn({ err }, 'progress not sent'));
  };
  const timer = setTimeout(() => report(latest), PROGRESS_AFTER_MS);
  return {
    report,
    stop() {
      done = true;
      clearTimeout(timer);
    },
  };
}
