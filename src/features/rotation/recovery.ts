import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../shared/config/schema.ts';
import { ApprovalStore } from '../../shared/approval/store.ts';
import { AuditLog } from '../../shared/audit/audit.ts';
import type { Notice, Origin, Reply } from '../../shared/contracts/envelope.ts';
import { keyPrefix } from '../../shared/queue/names.ts';
import type { HeldLock } from '../../shared/lock.ts';
import { startSweepLoop } from '../../shared/sweep-loop.ts';
import { RotationJournal } from './journal.ts';
import { isDrivenHere, leaseOwner, resumeRotation } from './run.ts';

export interface RecoveryDeps {
  readonly config: Config;
  readonly docker: Docker;
  readonly redis: Redis;
  readonly log: Logger;
  /** The worker's reply queue (what the bot says in Slack). */
  readonly replies: { send(reply: Reply): Promise<void>; notify(notice: Omit<Notice, 'type'>): Promise<void> };
  readonly workerId: string;
}

/**
 * Every worker watches for rotations whose worker died (their lease ran out), takes them over and
 * drives them to the end: forward from the journaled step, or on with the rollback. The result goes
 * to the original request's thread, and its approval record is closed as the first worker would have.
 */
export function startRotationRecovery(deps: RecoveryDeps): { close(): Promise<void> } {
  const { config, redis, log } = deps;
  const journal = new RotationJournal(redis, keyPrefix(config));
  const approvals = new ApprovalStore(redis, keyPrefix(config));
  const audit = new AuditLog(redis, log, `${keyPrefix(config)}:audit`, config.audit.streamMaxLen);
  const leaseMs = config.rotation.leaseSeconds * 1000;
  const abort = new AbortController();
  const running = new Set<Promise<void>>();
  const busy = new Set<string>();

  const resume = async (secret: string, lock: HeldLock): Promise<void> => {
    const j = await journal.get(secret);
    const origin = (j?.origin ?? { kind: 'schedule' }) as Origin;
    const progress = (text: string) => {
      if (!j || origin.kind === 'schedule' || origin.kind === 'plan') return;
      void deps.replies.send({ type: 'progress', requestId: j.requestId, command: j.command, origin, text: text.slice(0, 400) }).catch(() => undefined);
    };
    log.warn({ secret, requestId: j?.requestId }, 'resuming a rotation whose worker stopped');
    const result = await resumeRotation({ config, docker: deps.docker, redis, log, workerId: deps.workerId, signal: abort.signal, progress }, secret, lock);
    if (!result || !j) return;
    const ok = result.status === 'succeeded';
    const approval = await approvals.get(j.requestId).catch(() => undefined);
    if (approval?.state === 'executing') await approvals.apply(j.requestId, { type: 'finish', ok, reason: ok ? undefined : (result.error ?? result.status).slice(0, 500) });
    await audit.record({ requestId: j.requestId, command: j.command, args: j.args, actor: j.actor, via: 'worker', outcome: ok ? 'succeeded' : 'failed', durationMs: result.totalMs });
    if (origin.kind !== 'schedule' && origin.kind !== 'plan') {
      await deps.replies.send({ type: 'result', requestId: j.requestId, command: j.command, args: j.args, origin, result, durationMs: result.totalMs });
    } else if (config.channels.alerts || origin.channel) {
      await deps.replies.notify({ key: `rotation:${secret}`, action: 'root', ...(origin.channel ? { channel: origin.channel } : {}), text: `Rotation of ${secret} (${result.mode}) resumed after a worker stopped: ${result.status}.` });
    }
  };

  const tick = async (): Promise<void> => {
    for (const secret of await journal.active()) {
      if (busy.has(secret) || isDrivenHere(secret) || abort.signal.aborted) continue;
      const lock = await journal.claim(secret, leaseOwner(deps.workerId), leaseMs);
      if (!lock) continue;
      busy.add(secret);
      const p = resume(secret, lock)
        .catch((err: unknown) => log.error({ err, secret }, 'resuming the rotation failed'))
        .finally(() => {
          // Whatever happened before the drive began: never leave the lock renewing.
          void lock.release().catch(() => undefined);
          busy.delete(secret);
          running.delete(p);
        });
      running.add(p);
    }
  };
  const loop = startSweepLoop({ everyMs: Math.max(250, leaseMs / 2), sweep: tick, onError: (err) => log.warn({ err }, 'rotation recovery check failed') });
  return {
    async close() {
      await loop.stop();
      abort.abort();
      await Promise.allSettled([...running]);
    },
  };
}
