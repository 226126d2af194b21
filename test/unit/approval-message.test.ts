import { describe, expect, it } from 'vitest';
import { parseClick } from '../../src/bot/approval/payload.ts';
import { approvalMessage, ACTION_APPROVE, ACTION_CANCEL, ACTION_DENY } from '../../src/shared/approval/message.ts';
import { approvalDigest } from '../../src/shared/approval/digest.ts';
import { approvalRecordSchema, type ApprovalRecord } from '../../src/shared/approval/types.ts';

const ID = 'Zx0_-abcdefghijklmnopq';

function payload(over: Record<string, unknown> = {}, action: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'block_actions',
    api_app_id: 'A123456',
    team: { id: 'T0001', domain: 'example' },
    user: { id: 'U0BOB', username: 'bob', team_id: 'T0001' },
    container: { type: 'message', channel_id: 'C0OPS', message_ts: '1700000000.000100', is_ephemeral: false },
    channel: { id: 'C0OPS', name: 'ops' },
    message: { ts: '1700000000.000100', text: 'x' },
    actions: [{ type: 'button', action_id: ACTION_APPROVE, block_id: 'b', value: ID, action_ts: '1' }],
    state: { values: { cdb_approval_reason: { reason: { type: 'plain_text_input', value: '  not   now ' } } } },
    ...over,
    ...(Object.keys(action).length ? { actions: [{ type: 'button', action_id: ACTION_APPROVE, value: ID, ...action }] } : {}),
  };
}

function record(over: Partial<ApprovalRecord> = {}): ApprovalRecord {
  const base = { id: ID, command: 'zap', job: 'zap', args: { target: '<!channel> *x*' }, requester: { userId: 'U0ALICE', teamId: 'T0001' }, channel: 'C0OPS' };
  return approvalRecordSchema.parse({
    v: 1, ...base, state: 'pending', digest: approvalDigest(base), summary: ['web: nginx:1.27 → nginx:1.26', '<script>'], required: 1,
    createdAt: 1_700_000_000_000, expiresAt: 1_700_000_900_000, approvals: [], messageTs: '1700000000.000100', ...over,
  });
}

describe('approval click payloads', () => {
  it('reads a genuine click: one action, our action id, a request id, one user, team, channel and message', () => {
    const parsed = parseClick(payload());
    expect(parsed).toEqual({ ok: true, click: { kind: 'approve', id: ID, by: { userId: 'U0BOB', teamId: 'T0001' }, appId: 'A123456', channel: 'C0OPS', messageTs: '1700000000.000100', reason: 'not now' } });
    expect(parseClick(payload({}, { action_id: ACTION_DENY }))).toMatchObject({ ok: true, click: { kind: 'deny' } });
    expect(parseClick(payload({}, { action_id: ACTION_CANCEL }))).toMatchObject({ ok: true, click: { kind: 'cancel' } });
  });

  it.each([
    ['a value carrying more than an id', payload({}, { value: JSON.stringify({ id: ID, args: { target: 'all' } }) })],
    ['an id with extra characters', payload({}, { value: `${ID}x` })],
    ['no value', payload({}, { value: undefined })],
    ['another action id', payload({}, { action_id: 'cdb_approval_approve_all' })],
    ['two actions', payload({ actions: [{ action_id: ACTION_APPROVE, value: ID }, { action_id: ACTION_APPROVE, value: ID }] })],
    ['user and team disagreeing', payload({ user: { id: 'U0BOB', team_id: 'T0EVIL' } })],
    ['container and channel disagreeing', payload({ channel: { id: 'C0OTHER' } })],
    ['container and message disagreeing', payload({ message: { ts: '1.1' } })],
    ['no channel at all', payload({ container: {}, channel: undefined })],
    ['a user that is not a Slack user ID', payload({ user: { id: 'bob', team_id: 'T0001' } })],
    ['another payload type', payload({ type: 'view_submission' })],
    ['not an object', 'payload'],
  ])('refuses %s', (_what, body) => {
    expect(parseClick(body)).toMatchObject({ ok: false });
  });
});

describe('the approval request message', () => {
  it('shows who, what, what changes and until when; the buttons carry only the request id', () => {
    const m = approvalMessage(record());
    const json = JSON.stringify(m.blocks);
    expect(json).toContain('<@U0ALICE>');
    expect(json).toContain('/cdb zap');
    expect(json).toContain('nginx:1.27 → nginx:1.26');
    expect(json).toContain('<!date^1700000900^');
    // User-controlled text is escaped in mrkdwn: no mentions or markup injected through arguments or summaries.
    const mrkdwn = [...json.matchAll(/"type":"mrkdwn","text":"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]).join('\n');
    expect(mrkdwn).toContain('&lt;!channel&gt;');
    expect(mrkdwn).not.toContain('<!channel>');
    expect(mrkdwn).not.toContain('<script>');
    const actions = (m.blocks ?? []).find((b) => b.type === 'actions') as { elements: { action_id: string; value: string }[] } | undefined;
    expect(actions?.elements.map((e) => e.action_id)).toEqual([ACTION_APPROVE, ACTION_DENY, ACTION_CANCEL]);
    for (const e of actions?.elements ?? []) expect(e.value).toBe(ID);
  });

  it.each(['approved', 'denied', 'cancelled', 'expired', 'executing', 'executed', 'failed'] as const)('has no buttons once %s', (state) => {
    const m = approvalMessage(record({ state, approvals: state === 'denied' ? [] : [{ userId: 'U0BOB', teamId: 'T0001', at: 1 }], decidedBy: { userId: 'U0BOB', teamId: 'T0001' }, reason: 'because' }));
    expect((m.blocks ?? []).some((b) => b.type === 'actions' || b.type === 'input')).toBe(false);
  });

  it('says who decided and why', () => {
    expect(JSON.stringify(approvalMessage(record({ state: 'approved', approvals: [{ userId: 'U0BOB', teamId: 'T0001', at: 1 }] })).blocks)).toMatch(/Approved by <@U0BOB>, running/);
    expect(JSON.stringify(approvalMessage(record({ state: 'denied', decidedBy: { userId: 'U0BOB', teamId: 'T0001' }, reason: 'not now' })).blocks)).toMatch(/Denied by <@U0BOB>: not now/);
    expect(JSON.stringify(approvalMessage(record({ state: 'expired' })).blocks)).toMatch(/Expired/);
  });
});
