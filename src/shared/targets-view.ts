import type { WorkerBeat } from './heartbeat.ts';

/** One target as `/cdb targets` and the multi-target `/cdb status` show it. */
export interface TargetStatus {
  readonly name: string;
  readonly project: string;
  readonly docker: string;
  readonly explicit: boolean;
  /** Redis time when read (ms), to say "12 s ago" without trusting the bot's clock. */
  readonly now: number;
  readonly staleMs: number;
  readonly lastSeen?: number;
  readonly workers: readonly WorkerBeat[];
  readonly waiting: number;
  readonly active: number;
  readonly oldestWaitingAt?: number;
}

export interface TargetsView {
  overview(): Promise<TargetStatus[]>;
}

export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

export function isLive(t: TargetStatus): boolean {
  return t.lastSeen !== undefined && t.now - t.lastSeen <= t.staleMs;
}
