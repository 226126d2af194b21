import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Actor } from '../contracts/envelope.ts';

export type AuditOutcome =
  | 'accepted' | 'answered' | 'succeeded' | 'failed' | 'rejected'
  // Two-person approval transitions (src/shared/approval/); `voted` is one of several approvals needed.
  | 'requested' | 'voted' | 'approved' | 'denied' | 'cancelled' | 'expired' | 'executed';

export interface AuditEntry {
  readonly requestId: string;
  readonly command: string;
  readonly args: Record<string, unknown>;
  readonly actor: Actor;
  readonly via: string;
  readonly outcome: AuditOutcome;
  readonly durationMs?: number;
  readonly code?: string;
  /** Approval transitions: the request's state afterwards, who approved so far, and why it ended. */
  readonly approval?: { readonly id: string; readonly state: string; readonly approvers?: readonly string[]; readonly reason?: string };
}

const SECRETISH = /(pass(word)?|secret|token|key|credential)/i;

/** Argument values whose names look secret are replaced: the audit stream is read by many. */
export function redactArgs(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, SECRETISH.test(k) ? '[REDACTED]' : v]));
}

export class AuditLog {
  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
    private readonly streamKey: string,
    private readonly maxLen: number,
  ) {}

  /** One structured log line and one capped stream entry per event; a Redis failure never hides the log line. */
  async record(entry: AuditEntry): Promise<void> {
    const safe = { ...entry, args: redactArgs(entry.args) };
    this.log.info({ audit: true, ...safe }, `audit ${entry.command} ${entry.outcome}`);
    try {
      await this.redis.xadd(this.streamKey, 'MAXLEN', '~', String(this.maxLen), '*', 'entry', JSON.stringify({ ...safe, at: new Date().toISOString() }));
    } catch (err) {
      this.log.error({ err, requestId: entry.requestId }, 'audit stream append failed');
    }
  }

  async recent(count = 20): Promise<(AuditEntry & { at: string })[]> {
    const rows = await this.redis.xrevrange(this.streamKey, '+', '-', 'COUNT', count);
    return rows.map(([, fieldsList]) => JSON.parse(fieldsList[1] ?? '{}') as AuditEntry & { at: string });
  }
}
