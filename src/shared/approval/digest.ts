import { createHash } from 'node:crypto';
import type { Person } from './types.ts';

/** JSON with object keys sorted at every level, so equal values always hash the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export interface DigestInput {
  readonly id: string;
  readonly command: string;
  readonly job: string;
  readonly args: Record<string, unknown>;
  readonly requester: Person;
  readonly channel: string | undefined;
  /** Absent for a single stack, so digests of requests made before targets existed still match. */
  readonly target?: string | undefined;
}

/** What an approver approves: this exact operation, for this requester, in this channel, on this target. */
export function approvalDigest(i: DigestInput): string {
  const body = canonicalJson({
    v: 1,
    id: i.id,
    command: i.command,
    job: i.job,
    args: i.args,
    requester: { userId: i.requester.userId, teamId: i.requester.teamId },
    channel: i.channel ?? null,
    // An approval for `web` can never run on `services`: the target is part of what was approved.
    target: i.target,
  });
  return createHash('sha256').update(body).digest('hex');
}
