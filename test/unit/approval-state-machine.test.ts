import { describe, expect, it } from 'vitest';
import { decide, MIN_START_WINDOW_MS, type ApprovalEvent } from '../../src/shared/approval/state-machine.ts';
import { approvalDigest } from '../../src/shared/approval/digest.ts';
import { approvalRecordSchema, type ApprovalRecord, type ApprovalState } from '../../src/shared/approval/types.ts';

const T0 = 1_700_000_000_000;
const ALICE = { userId: 'U0ALICE', teamId: 'T0001' };
const BOB = { userId: 'U0BOB', teamId: 'T0001' };
const CAROL = { userId: 'U0CAROL', teamId: 'T0001' };
const HERE = { channel: 'C0OPS', messageTs: '1700000000.000100' };

function record(over: Partial<ApprovalRecord> = {}): ApprovalRecord {
  const base = { id: 'AAAAAAAAAAAAAAAAAAAAAA', command: 'zap', job: 'zap', args: { target: 'latest' }, requester: { ...ALICE, name: 'alice' }, channel: HERE.channel };
  return approvalRecordSchema.parse({
    v: 1, ...base, state: 'pending', digest: approvalDigest(base), summary: [], required: 1,
    createdAt: T0, expiresAt: T0 + 15 * 60_000, approvals: [], messageTs: HERE.messageTs, ...over,
  });
}

const approve = (by = BOB, where = HERE): ApprovalEvent => ({ type: 'approve', by, ...where });

describe('approval state machine', () => {
  it('approves on the first approver by default, stamps the approval and a start deadline', () => {
    const d = decide(record(), approve(), T0 + 1000);
    expect(d.refusal).toBeUndefined();
    expect(d.outcome).toBe('approved');
    expect(d.next).toMatchObject({ state: 'approved', approvedAt: T0 + 1000, approvals: [{ ...BOB, at: T0 + 1000 }], decidedBy: BOB });
    expect(d.next?.executeBy).toBe(T0 + 1000 + 15 * 60_000);
  });

  it('never lets the requester approve or deny their own request, compared by user ID only', () => {
    expect(decide(record(), approve(ALICE), T0).refusal).toBe('self');
    // The same user ID is the same person, whatever name or team a payload claims.
    expect(decide(record(), approve({ userId: ALICE.userId, teamId: 'T0001' }), T0).next).toBeUndefined();
    expect(decide(record(), { type: 'deny', by: ALICE, ...HERE }, T0).refusal).toBe('self');
  });

  it('counts N distinct approvers, never the same one twice', () => {
    const two = record({ required: 2 });
    const first = decide(two, approve(BOB), T0 + 1);
    expect(first).toMatchObject({ outcome: 'voted', next: { state: 'pending' } });
    const again = decide(first.next as ApprovalRecord, approve(BOB), T0 + 2);
    expect(again).toEqual({ refusal: 'duplicate' });
    const second = decide(first.next as ApprovalRecord, approve(CAROL), T0 + 3);
    expect(second).toMatchObject({ outcome: 'approved', next: { state: 'approved' } });
    expect(second.next?.approvals.map((a) => a.userId)).toEqual([BOB.userId, CAROL.userId]);
  });

  it('refuses clicks from another message, another channel or another team', () => {
    expect(decide(record(), approve(BOB, { ...HERE, messageTs: '1.2' }), T0).refusal).toBe('tampered');
    expect(decide(record(), approve(BOB, { ...HERE, channel: 'C0OTHER' }), T0).refusal).toBe('tampered');
    expect(decide(record(), approve({ userId: 'U0BOB', teamId: 'T0EVIL' }), T0).refusal).toBe('tampered');
    expect(decide(record({ messageTs: undefined }), approve(), T0).refusal).toBe('tampered');
  });

  it('expires a request clicked after its window, and refuses the click', () => {
    const d = decide(record(), approve(), T0 + 15 * 60_000);
    expect(d).toMatchObject({ refusal: 'expired', outcome: 'expired', next: { state: 'expired' } });
  });

  it('expires only when due and only while pending', () => {
    expect(decide(record(), { type: 'expire' }, T0 + 1)).toEqual({ refusal: 'not-due' });
    expect(decide(record(), { type: 'expire' }, T0 + 15 * 60_000)).toMatchObject({ outcome: 'expired' });
    expect(decide(record({ state: 'approved' }), { type: 'expire' }, T0 + 99 * 60_000)).toEqual({ refusal: 'closed' });
  });

  it.each<ApprovalState>(['approved', 'denied', 'cancelled', 'expired', 'executing', 'executed', 'failed'])('refuses approve, deny and cancel once %s', (state) => {
    const r = record({ state });
    expect(decide(r, approve(), T0).refusal).toBe('closed');
    expect(decide(r, { type: 'deny', by: BOB, ...HERE }, T0).refusal).toBe('closed');
    expect(decide(r, { type: 'cancel', by: ALICE, ...HERE }, T0).refusal).toBe('closed');
  });

  it('lets approvers deny with a reason, and only the requester cancel', () => {
    expect(decide(record(), { type: 'deny', by: BOB, reason: 'not now', ...HERE }, T0)).toMatchObject({ outcome: 'denied', next: { state: 'denied', decidedBy: BOB, reason: 'not now' } });
    expect(decide(record(), { type: 'cancel', by: BOB, ...HERE }, T0).refusal).toBe('not-requester');
    expect(decide(record(), { type: 'cancel', by: { userId: ALICE.userId, teamId: 'T0EVIL' }, ...HERE }, T0).refusal).toBe('tampered');
    expect(decide(record(), { type: 'cancel', by: ALICE, ...HERE }, T0)).toMatchObject({ outcome: 'cancelled', next: { state: 'cancelled' } });
  });

  it('starts an approved request exactly once, and only with the approved digest', () => {
    const approved = decide(record(), approve(), T0).next as ApprovalRecord;
    const start = decide(approved, { type: 'start', digest: approved.digest }, T0 + 10);
    expect(start).toMatchObject({ outcome: 'executing', next: { state: 'executing', startedAt: T0 + 10 } });
    const executing = start.next as ApprovalRecord;
    expect(decide(executing, { type: 'start', digest: approved.digest }, T0 + 11)).toEqual({ refusal: 'used' });
    const done = decide(executing, { type: 'finish', ok: true }, T0 + 20).next as ApprovalRecord;
    expect(done.state).toBe('executed');
    expect(decide(done, { type: 'start', digest: approved.digest }, T0 + 21)).toEqual({ refusal: 'used' });
    expect(decide(approved, { type: 'start', digest: 'f'.repeat(64) }, T0 + 10)).toMatchObject({ refusal: 'tampered', next: { state: 'failed' } });
    expect(decide(record(), { type: 'start', digest: approved.digest }, T0)).toEqual({ refusal: 'closed' });
  });

  it('interrupts only an executing request (its worker died): failed, marked interrupted, once; journaled is kept from start', () => {
    const approved = decide(record(), approve(), T0).next as ApprovalRecord;
    expect(decide(approved, { type: 'interrupt', reason: 'x' }, T0 + 1)).toEqual({ refusal: 'closed' });
    const executing = decide(approved, { type: 'start', digest: approved.digest, journaled: true }, T0 + 10).next as ApprovalRecord;
    expect(executing.journaled).toBe(true);
    const interrupted = decide(executing, { type: 'interrupt', reason: 'interrupted: the worker stopped' }, T0 + 20);
    expect(interrupted).toMatchObject({ outcome: 'failed', next: { state: 'failed', interrupted: true, finishedAt: T0 + 20, reason: 'interrupted: the worker stopped' } });
    const failed = interrupted.next as ApprovalRecord;
    expect(decide(failed, { type: 'interrupt', reason: 'again' }, T0 + 21)).toEqual({ refusal: 'closed' });
    expect(decide(failed, { type: 'finish', ok: true }, T0 + 22)).toEqual({ refusal: 'closed' });
    expect(decide(failed, { type: 'start', digest: approved.digest }, T0 + 23)).toEqual({ refusal: 'used' });
  });

  it('gives an approved job a start window of at least 15 minutes, then fails it as stale', () => {
    const short = record({ expiresAt: T0 + 3000 });
    const approved = decide(short, approve(), T0 + 1000).next as ApprovalRecord;
    expect(approved.executeBy).toBe(T0 + 1000 + MIN_START_WINDOW_MS);
    expect(decide(approved, { type: 'start', digest: approved.digest }, T0 + 1001 + MIN_START_WINDOW_MS)).toMatchObject({ refusal: 'stale', next: { state: 'failed' } });
  });

  it('records failures with their reason; aborts only requests that have not started', () => {
    const executing = record({ state: 'executing' });
    expect(decide(executing, { type: 'finish', ok: false, reason: 'boom' }, T0).next).toMatchObject({ state: 'failed', reason: 'boom' });
    expect(decide(executing, { type: 'abort', reason: 'x' }, T0)).toEqual({ refusal: 'used' });
    expect(decide(record({ state: 'approved' }), { type: 'abort', reason: 'role revoked' }, T0).next).toMatchObject({ state: 'failed', reason: 'role revoked' });
    expect(decide(record({ state: 'executed' }), { type: 'finish', ok: true }, T0)).toEqual({ refusal: 'closed' });
  });

  it('sets the message once, right after posting', () => {
    const r = record({ messageTs: undefined });
    expect(decide(r, { type: 'posted', messageTs: '1.1' }, T0).next?.messageTs).toBe('1.1');
    expect(decide(record(), { type: 'posted', messageTs: '9.9' }, T0)).toEqual({ refusal: 'closed' });
  });

  it('never mutates the record it is given', () => {
    const r = record();
    const frozen = JSON.stringify(r);
    decide(r, approve(), T0);
    decide(r, { type: 'deny', by: BOB, ...HERE }, T0);
    expect(JSON.stringify(r)).toBe(frozen);
  });
});
