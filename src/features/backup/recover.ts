import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ApprovalStore } from '../../shared/approval/store.ts';
import { AuditLog } from '../../shared/audit/audit.ts';
import type { Config } from '../../shared/config/schema.ts';
import { keyPrefix } from '../../shared/queue/names.ts';
import { startSweepLoop } from '../../shared/sweep-loop.ts';
import type { Notice, Reply } from '../../shared/contracts/envelope.ts';
import { decrypterFor } from './age-keys.ts';
import { backupEnv } from './env.ts';
import { journalKey, JournalStore } from './journal.ts';
import { leaseKey, withLease } from './lease.ts';
import { finishRestore, revertRestore, type FullJournal } from './restore.ts';

const SWEEP_MS = 5000;

export interface RecoveryDeps {
  readonly config: Config;
  readonly docker: Docker;
  readonly connection: Redis;
  readonly log: Logger;
  /** The worker's replies queue (what it wants said in Slack). */
  readonly replies: { send(reply: Reply): Promise<void>; notify(notice: Omit<Notice, 'type'>): Promise<void> };
}

/**
 * Finds a restore whose worker is gone (its journal is there, its lease expired) and puts the stack
 * back together: a restore that had verified everything is finished, anything earlier is reverted
 * to the state before (databases swapped back, the safety backup for Redis and volumes), stopped
 * services are started, the approval is closed, and the request's thread and the alerts channel
 * are told which. Returns what it did, or undefined when there was nothing to do.
 */
export async function recoverRestore(deps: RecoveryDeps): Promise<string | undefined> {
  const prefix = keyPrefix(deps.config);
  const project = deps.config.stack.project;
  const store = new JournalStore(deps.connection, journalKey(prefix, project));
  const seen = (await store.read()) as FullJournal | undefined;
  if (!seen || (await deps.connection.exists(leaseKey(prefix, project)))) return undefined;
  const owner = `recovery-${seen.requestId}`;
  return withLease(deps.connection, leaseKey(prefix, project), owner, 'recovery', async () => {
    const j = (await store.read()) as FullJournal | undefined;
    if (!j || j.requestId !== seen.requestId) return undefined;
    const log = deps.log.child({ requestId: j.requestId, recovery: true });
    const env = backupEnv({
      requestId: j.requestId, actor: j.actor, origin: j.origin, config: deps.config, docker: deps.docker, redis: deps.connection, log,
      signal: new AbortController().signal, progress: () => undefined, notify: (n) => deps.replies.notify(n),
    });
    log.warn({ phase: j.phase, backup: j.backup }, 'found an interrupted restore; recovering');
    let text: string;
    let ok: boolean;
    if (j.phase === 'verified') {
      const problems = await finishRestore(env, j);
      ok = problems.length === 0;
      text = `The restore of ${j.backup} (request \`${j.requestId}\`) was interrupted after every component was restored and verified. It was finished: the stopped services were started${ok ? ' and are healthy' : `, with problems: ${problems.join('; ')}`}. The stack runs the backup's data.`;
    } else {
      const manifest = await env.store.manifest(j.backup).catch(() => undefined);
      const recipients = [manifest?.recipient, deps.config.backup.recipient].filter((r): r is string => Boolean(r));
      const decrypter = recipients.length ? await decrypterFor(deps.config.backup, recipients).catch(() => undefined) : undefined;
      const undo = await revertRestore(env, j, decrypter);
      ok = undo.ok;
      text = `The restore of ${j.backup} (request \`${j.requestId}\`) was interrupted at step “${j.phase}” (the worker stopped). It was undone: ${undo.ok ? `the stack is back on the state before the restore${j.safety ? ` (safety backup ${j.safety})` : ''}, and every stopped service is running again` : `but not completely — ${undo.detail}. Restore the safety backup ${j.safety ?? '(none was taken)'} by hand: runbooks/disaster-recovery.md`}.`;
    }
    await store.clear();
    log.warn({ ok }, text);
    if (j.origin && j.origin.kind !== 'plan' && j.origin.kind !== 'schedule') {
      await deps.replies.send({ type: 'error', requestId: j.requestId, command: 'restore', origin: j.origin, code: 'RESTORE_INTERRUPTED', message: text.slice(0, 2000), durationMs: 0 }).catch(() => undefined);
    }
    await deps.replies.notify({ key: `restore:${j.requestId}`, action: 'root', text: `:rotating_light: ${text}`.slice(0, 4000) }).catch(() => undefined);
    if (j.approvalId) await new ApprovalStore(deps.connection, prefix).apply(j.approvalId, { type: 'finish', ok: j.phase === 'verified' && ok, reason: text.slice(0, 500) }).catch(() => undefined);
    await new AuditLog(deps.connection, log, `${prefix}:audit`, deps.config.audit.streamMaxLen)
      .record({ requestId: j.requestId, command: 'restore', args: { backup: j.backup }, actor: j.actor, via: j.origin?.kind ?? 'slack', outcome: j.phase === 'verified' && ok ? 'succeeded' : 'failed', code: 'RESTORE_INTERRUPTED' })
      .catch(() => undefined);
    return text;
  });
}

/** Sweeps for interrupted restores at start and every few seconds (any live worker can recover). */
export function startRestoreRecovery(deps: RecoveryDeps): { close(): Promise<void> } {
  const loop = startSweepLoop({
    everyMs: SWEEP_MS,
    sweep: () => recoverRestore(deps),
    onError: (err) => {
      if (!(err instanceof Error && /Another backup, restore or drill/.test(err.message))) deps.log.error({ err }, 'restore recovery failed');
    },
  });
  return { close: () => loop.stop() };
}
