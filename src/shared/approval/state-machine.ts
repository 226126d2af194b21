import type { ApprovalRecord, ApprovalState, Person } from './types.ts';

/** However short a request's window, an approved job gets at least this long to start. */
export const MIN_START_WINDOW_MS = 15 * 60_000;

/** Where a click came from: it must be the request's own message. */
interface Where {
  readonly channel: string;
  readonly messageTs: string;
}

export type ApprovalEvent =
  | { readonly type: 'posted'; readonly messageTs: string }
  | ({ readonly type: 'approve'; readonly by: Person } & Where)
  | ({ readonly type: 'deny'; readonly by: Person; readonly reason?: string } & Where)
  | ({ readonly type: 'cancel'; readonly by: Person; readonly reason?: string } & Where)
  | { readonly type: 'expire' }
  /** The worker, right before running: approved → executing, once. */
  | { readonly type: 'start'; readonly digest: string; readonly journaled?: boolean }
  | { readonly type: 'finish'; readonly ok: boolean; readonly reason?: string }
  /** Ends a request that can no longer run (message not posted, role revoked, stale, bad record). */
  | { readonly type: 'abort'; readonly reason: string }
  /** The worker running it died (its run lock expired): executing → failed, marked interrupted. */
  | { readonly type: 'interrupt'; readonly reason: string };

export type Refusal =
  | 'closed' // no longer pending (or not approved, for start)
  | 'expired' // the window passed; the request is expired now
  | 'tampered' // click from another message/channel/team, or a digest that does not match
  | 'self' // the requester cannot approve or deny their own request
  | 'duplicate' // this approver already counted
  | 'not-requester' // only the requester can cancel
  | 'used' // start of a request that already started once
  | 'stale' // approved, but not started in time
  | 'not-due'; // expiry before its time

/** What a transition means for the audit stream. */
export type Outcome = 'voted' | 'approved' | 'denied' | 'cancelled' | 'expired' | 'executing' | 'executed' | 'failed' | 'posted';

export interface Decision {
  /** The record to write (compare-and-set), when the event changes it. */
  readonly next?: ApprovalRecord;
  readonly outcome?: Outcome;
  /** Why the event was refused; a refused event may still change the record (an expired click expires it). */
  readonly refusal?: Refusal;
}

const FINISHED: readonly ApprovalState[] = ['executing', 'executed', 'failed'];

function sameMessage(r: ApprovalRecord, w: Where): boolean {
  return r.messageTs !== undefined && r.channel === w.channel && r.messageTs === w.messageTs;
}

/** A person is a Slack user ID within a team; names and e-mail never identify anyone. */
export function samePerson(a: Person, b: Person): boolean {
  return a.userId === b.userId && a.teamId === b.teamId;
}

/** Checks shared by approve, deny and cancel: still open, not expired, clicked on its own message, same team. */
function openCheck(r: ApprovalRecord, e: Where & { by: Person }, now: number): Decision | undefined {
  if (r.state !== 'pending') return { refusal: 'closed' };
  if (now >= r.expiresAt) return { next: { ...r, state: 'expired', reason: 'nobody approved in time' }, outcome: 'expired', refusal: 'expired' };
  if (!sameMessage(r, e)) return { refusal: 'tampered' };
  if (e.by.teamId !== r.requester.teamId) return { refusal: 'tampered' };
  return undefined;
}

/**
 * The whole approval state machine as a pure function: the Redis store applies its result with a
 * compare-and-set, so every rule below holds under any number of concurrent clicks.
 */
export function decide(r: ApprovalRecord, e: ApprovalEvent, now: number): Decision {
  switch (e.type) {
    case 'posted':
      if (r.state !== 'pending' || r.messageTs) return { refusal: 'closed' };
      return { next: { ...r, messageTs: e.messageTs }, outcome: 'posted' };
    case 'approve': {
      const stop = openCheck(r, e, now);
      if (stop) return stop;
      // Compared by user ID alone: the same ID in another team is still not a second person.
      if (e.by.userId === r.requester.userId) return { refusal: 'self' };
      if (r.approvals.some((a) => a.userId === e.by.userId)) return { refusal: 'duplicate' };
      const approvals = [...r.approvals, { userId: e.by.userId, teamId: e.by.teamId, at: now }];
      if (approvals.length < r.required) return { next: { ...r, approvals }, outcome: 'voted' };
      const window = Math.max(r.expiresAt - r.createdAt, MIN_START_WINDOW_MS);
      return { next: { ...r, approvals, state: 'approved', approvedAt: now, executeBy: now + window, decidedBy: { ...e.by } }, outcome: 'approved' };
    }
    case 'deny': {
      const stop = openCheck(r, e, now);
      if (stop) return stop;
      if (e.by.userId === r.requester.userId) return { refusal: 'self' };
      return { next: { ...r, state: 'denied', decidedBy: { ...e.by }, reason: e.reason }, outcome: 'denied' };
    }
    case 'cancel': {
      const stop = openCheck(r, e, now);
      if (stop) return stop;
      if (!samePerson(e.by, r.requester)) return { refusal: 'not-requester' };
      return { next: { ...r, state: 'cancelled', decidedBy: { ...e.by }, reason: e.reason }, outcome: 'cancelled' };
    }
    case 'expire':
      if (r.state !== 'pending') return { refusal: 'closed' };
      if (now < r.expiresAt) return { refusal: 'not-due' };
      return { next: { ...r, state: 'expired', reason: 'nobody approved in time' }, outcome: 'expired' };
    case 'start':
      if (FINISHED.includes(r.state)) return { refusal: 'used' };
      if (r.state !== 'approved') return { refusal: 'closed' };
      if (e.digest !== r.digest) return { next: { ...r, state: 'failed', finishedAt: now, reason: 'the job did not match the approved request' }, outcome: 'failed', refusal: 'tampered' };
      if (r.executeBy === undefined || now > r.executeBy) {
        return { next: { ...r, state: 'failed', finishedAt: now, reason: 'approved, but not started in time' }, outcome: 'failed', refusal: 'stale' };
      }
      return { next: { ...r, state: 'executing', startedAt: now, ...(e.journaled ? { journaled: true } : {}) }, outcome: 'executing' };
    case 'finish':
      if (r.state !== 'executing') return { refusal: 'closed' };
      return { next: { ...r, state: e.ok ? 'executed' : 'failed', finishedAt: now, reason: e.ok ? undefined : e.reason }, outcome: e.ok ? 'executed' : 'failed' };
    case 'interrupt':
      if (r.state !== 'executing') return { refusal: 'closed' };
      return { next: { ...r, state: 'failed', finishedAt: now, reason: e.reason, interrupted: true }, outcome: 'failed' };
    case 'abort':
      if (r.state !== 'pending' && r.state !== 'approved') return { refusal: r.state === 'executing' ? 'used' : 'closed' };
      return { next: { ...r, state: 'failed', finishedAt: now, reason: e.reason }, outcome: 'failed' };
  }
}
