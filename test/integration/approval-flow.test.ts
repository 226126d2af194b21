import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/compose-stack.ts';
import { waitForFinalReply } from '../support/final-reply.ts';
import { ALICE, APPROVER_GROUP, BOB, CAROL, CHANNEL, DAVE, GONE, GRACE, ROBOT, TEAM, fileConfig, ranWith, runs, startRig, type Rig } from './approval-harness.ts';

/** Every test makes its own request; the rig (bot, worker, Redis prefix, Slack stand-in) is shared. */
describe('two-person approval through the real HTTP receiver, Redis and worker', () => {
  let rig: Rig;

  beforeAll(async () => {
    rig = await startRig();
  });

  afterAll(async () => {
    await rig?.close();
  });

  const message = (id: string) => waitFor(async () => {
    const r = await rig.record(id);
    return rig.slack.messages.get(`${r.channel}:${r.messageTs}`);
  }, { what: `the message of ${id}` });

  const jobExists = async (id: string) => (await rig.queue.getJob(id)) !== undefined;

  it('posts the request with who, what, what changes, expiry and buttons carrying only the id; nothing runs yet', async () => {
    const ack = await rig.slash('zap web');
    expect(ack).toMatch(/needs a second person’s approval/);
    const id = /request `([A-Za-z0-9_-]{22})`/.exec(ack)?.[1] as string;
    await waitFor(async () => (await rig.store.get(id))?.messageTs, { what: 'the message ts' });
    const m = await message(id);
    const blocks = JSON.stringify(m.blocks);
    expect(m.channel).toBe(CHANNEL);
    expect(blocks).toContain(`<@${ALICE}> asks to run`);
    expect(blocks).toContain('/cdb zap {\\"target\\":\\"web\\"}');
    expect(blocks).toContain('service web: image test:2 → test:1 (recreated)');
    expect(blocks).toMatch(/Expires\*\\n<!date\^\d+\^/);
    const actions = (m.blocks as { type: string; elements?: { action_id: string; value: string }[] }[]).find((b) => b.type === 'actions');
    expect(actions?.elements?.map((e) => [e.action_id, e.value])).toEqual([['cdb_approval_approve', id], ['cdb_approval_deny', id], ['cdb_approval_cancel', id]]);
    expect(await rig.record(id)).toMatchObject({ state: 'pending', command: 'zap', job: 'zap', args: { target: 'web' }, requester: { userId: ALICE, teamId: TEAM }, required: 1 });
    expect(await jobExists(id)).toBe(false);
    expect((await rig.auditFor(id)).map((e) => e.outcome)).toEqual(['requested']);
  });

  it('refuses the requester’s own approval by user ID (not name) and non-approvers, then runs once for an approver', async () => {
    const id = await rig.request('zap api');
    let mark = rig.slack.calls.length;
    // Same user ID, another display name: still the requester.
    await rig.click('approve', id, ALICE);
    await rig.ephemeral(ALICE, mark, /cannot approve it/);
    mark = rig.slack.calls.length;
    await rig.click('approve', id, DAVE);
    await rig.ephemeral(DAVE, mark, /Only people with the \*approver\* role/);
    mark = rig.slack.calls.length;
    await rig.click('deny', id, DAVE);
    await rig.ephemeral(DAVE, mark, /Only people with the \*approver\* role/);
    expect((await rig.record(id)).state).toBe('pending');
    expect(await jobExists(id)).toBe(false);

    await rig.click('approve', id, BOB);
    await rig.waitForState(id, 'executed');
    expect(runs.get(id)).toBe(1);
    // Results follow in the request's thread; the root message says who approved and how it ended.
    const r = await rig.record(id);
    const result = await waitForFinalReply(rig.slack, id, { match: /zapped api/, timeoutMs: 60_000 });
    expect(result.thread_ts).toBe(r.messageTs);
    expect(result.channel).toBe(CHANNEL);
    await waitFor(async () => JSON.stringify((await message(id)).blocks).includes(`Approved by <@${BOB}> · finished`), { what: 'the root message to show the outcome' });
    const outcomes = (await rig.auditFor(id)).map((e) => `${e.outcome}${e.code ? `:${e.code}` : ''}:${(e.actor as { userId: string }).userId}`);
    expect(outcomes).toEqual(expect.arrayContaining([`requested:${ALICE}`, `rejected:APPROVAL_SELF:${ALICE}`, `rejected:FORBIDDEN:${DAVE}`, `approved:${BOB}`, `executed:${ALICE}`]));
  });

  it('ends with Deny (reason shown) and Cancel (requester only); late clicks get a clear answer and nothing runs', async () => {
    const denied = await rig.request('zap db');
    await rig.click('deny', denied, BOB, { reason: 'not during the release' });
    await rig.waitForState(denied, 'denied');
    await waitFor(async () => JSON.stringify((await message(denied)).blocks).includes(`Denied by <@${BOB}>: not during the release`), { what: 'the denied message' });
    expect(JSON.stringify((await message(denied)).blocks)).not.toContain('cdb_approval_approve');
    let mark = rig.slack.calls.length;
    await rig.click('approve', denied, CAROL);
    await rig.ephemeral(CAROL, mark, /no longer open.*Denied by/s);

    const cancelled = await rig.request('zap cache');
    mark = rig.slack.calls.length;
    await rig.click('cancel', cancelled, BOB);
    await rig.ephemeral(BOB, mark, /Only <@U0ALICE>, who asked, can cancel/);
    await rig.click('cancel', cancelled, ALICE, { reason: 'wrong target' });
    await rig.waitForState(cancelled, 'cancelled');
    await waitFor(async () => JSON.stringify((await message(cancelled)).blocks).includes(`Cancelled by <@${ALICE}>: wrong target`), { what: 'the cancelled message' });
    mark = rig.slack.calls.length;
    await rig.click('approve', cancelled, BOB);
    await rig.ephemeral(BOB, mark, /no longer open/);

    expect(await jobExists(denied)).toBe(false);
    expect(await jobExists(cancelled)).toBe(false);
    const audit = [...(await rig.auditFor(denied)), ...(await rig.auditFor(cancelled))].map((e) => e.outcome);
    expect(audit).toEqual(expect.arrayContaining(['denied', 'cancelled']));
  });

  it('runs the command’s read-only plan first, shows it, and pins its fingerprint into the approved arguments', async () => {
    const id = await rig.request('zapplan web');
    const r = await rig.record(id);
    expect(r.args).toEqual({ target: 'web', expectPlan: 'abcd1234' });
    expect(r.summary[0]).toBe('plan: web test:2 → test:1');
    expect(JSON.stringify((await message(id)).blocks)).toContain('plan: web test:2 → test:1');
    await rig.click('approve', id, BOB);
    await rig.waitForState(id, 'executed');
    expect(ranWith.get(id)).toEqual({ target: 'web', expectPlan: 'abcd1234' });
    // A plan that fails posts nothing and says why.
    const before = (await rig.store.overview(50)).pending.length;
    const ack = await rig.slash('zapplan broken');
    const answer = /Working on it/.test(ack) ? String((await rig.slack.waitForResponse((x) => /No approval request was posted/.test(String(x.text)), 60_000)).text) : ack;
    expect(answer).toMatch(/There is no tag for broken\. No approval request was posted/);
    expect((await rig.store.overview(50)).pending.length).toBe(before);
  });

  it('needs N distinct approvers when configured; the same approver never counts twice', async () => {
    const id = await rig.request('zap2 web');
    await rig.click('approve', id, BOB);
    await waitFor(async () => (await rig.record(id)).approvals.length === 1, { what: 'the first approval' });
    const mark = rig.slack.calls.length;
    await rig.click('approve', id, BOB);
    await rig.ephemeral(BOB, mark, /each person counts once/);
    expect((await rig.record(id)).state).toBe('pending');
    expect(await jobExists(id)).toBe(false);
    await waitFor(async () => JSON.stringify((await message(id)).blocks).includes('1 of 2'), { what: 'the message to show 1 of 2' });
    await rig.click('approve', id, CAROL);
    await rig.waitForState(id, 'executed');
    expect(runs.get(id)).toBe(1);
    expect((await rig.record(id)).approvals.map((a) => a.userId)).toEqual([BOB, CAROL]);
  });

  it('refuses bots, deactivated users and users of another workspace, as requesters and approvers', async () => {
    // ROBOT holds the operator role in config, but Slack says it is a bot.
    expect(await rig.slash('zap web', ROBOT)).toMatch(/You cannot request `zap`: bots and apps cannot/);
    const id = await rig.request('zap edge');
    for (const [user, re] of [[ROBOT, /bots and apps cannot/], [GONE, /deactivated users cannot/]] as const) {
      const mark = rig.slack.calls.length;
      await rig.click('approve', id, user);
      await rig.ephemeral(user, mark, re);
    }
    const mark = rig.slack.calls.length;
    await rig.click('approve', id, CAROL, { team: 'T0EVIL' });
    await rig.ephemeral(CAROL, mark, /another workspace/);
    // A user whose Slack profile belongs to another workspace, though the payload claims ours.
    rig.slack.setUser('U0MANY07', { team_id: 'T0EVIL' });
    const mark2 = rig.slack.calls.length;
    await rig.click('approve', id, 'U0MANY07');
    await rig.ephemeral('U0MANY07', mark2, /another workspace/);
    expect((await rig.record(id)).state).toBe('pending');
    expect(await jobExists(id)).toBe(false);
  });

  it('refuses forged or tampered clicks: other id, other request’s message, other channel, other message, other app, extra arguments', async () => {
    const a = await rig.request('zap alpha');
    const b = await rig.request('zap beta');
    const rb = await rig.record(b);
    const cases: [string, Parameters<Rig['click']>[3] & { id?: string }, RegExp][] = [
      ['unknown id', { id: 'A'.repeat(22) }, /no approval request/],
      ['a’s id on b’s message', { ts: rb.messageTs }, /does not match this approval request/],
      ['other channel', { channel: 'C0OTHER' }, /does not match/],
      ['other message', { ts: '1699999999.000001' }, /does not match/],
      ['other app', { appId: 'A0EVIL' }, /another Slack app/],
      ['arguments in the button value', { value: JSON.stringify({ id: a, args: { target: 'everything' } }) }, /does not belong to a valid approval request/],
    ];
    for (const [, opts, re] of cases) {
      const mark = rig.slack.calls.length;
      await rig.click('approve', opts.id ?? a, BOB, opts);
      await rig.ephemeral(BOB, mark, re);
    }
    expect((await rig.record(a)).state).toBe('pending');
    expect((await rig.record(b)).state).toBe('pending');
    expect(await jobExists(a)).toBe(false);
    expect(await jobExists(b)).toBe(false);
    const codes = (await rig.auditFor(a)).map((e) => e.code).filter(Boolean);
    expect(codes).toEqual(expect.arrayContaining(['APPROVAL_TAMPERED']));
  });

  it('enqueues exactly one job for 50 concurrent Approve clicks', async () => {
    const id = await rig.request('zap storm');
    const many = (rig.config.roles.approver.users as string[]).filter((u) => u.startsWith('U0MANY') && u !== 'U0MANY07');
    const clicks = [...many, ...many.slice(0, 50 - many.length)].slice(0, 50);
    expect(clicks).toHaveLength(50);
    const responses = await Promise.all(clicks.map((u) => rig.click('approve', id, u)));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    // Every click leaves exactly one audit entry: one approval, 49 refusals.
    const audit = await waitFor(async () => {
      const entries = (await rig.auditFor(id)).filter((e) => e.outcome === 'approved' || e.outcome === 'rejected');
      return entries.length >= 50 ? entries : undefined;
    }, { what: '50 audited clicks', timeoutMs: 120_000 });
    expect(audit.filter((e) => e.outcome === 'approved')).toHaveLength(1);
    await rig.waitForState(id, 'executed');
    const all = await rig.queue.getJobs(['completed', 'failed', 'active', 'wait', 'delayed']);
    expect(all.filter((j) => j.id === id || (j.data as { requestId?: string }).requestId === id)).toHaveLength(1);
    expect(runs.get(id)).toBe(1);
  });

  it('expires unanswered requests on time, updates the message, and refuses late approval', async () => {
    const id = await rig.request('zapfast web');
    await rig.waitForState(id, 'expired');
    await waitFor(async () => JSON.stringify((await message(id)).blocks).includes('Expired'), { what: 'the expired message' });
    expect(JSON.stringify((await message(id)).blocks)).not.toContain('cdb_approval_approve');
    const mark = rig.slack.calls.length;
    await rig.click('approve', id, BOB);
    await rig.ephemeral(BOB, mark, /no longer open.*Expired/s);
    expect(await jobExists(id)).toBe(false);
    const expired = (await rig.auditFor(id)).find((e) => e.outcome === 'expired');
    expect(expired).toMatchObject({ requestId: id, actor: { userId: 'local:cdb-bot' }, approval: { id, state: 'expired' } });
  });

  it('lists pending and recent requests with /cdb approvals', async () => {
    const pending = await rig.request('zap listed');
    const text = await rig.slash('approvals', DAVE);
    expect(text).toMatch(/Approval requests: \d+ pending/);
    const detail = await rig.slash(`approvals ${pending}`, DAVE);
    expect(detail).toContain('/cdb zap');
    await rig.click('cancel', pending, ALICE);
    await rig.waitForState(pending, 'cancelled');
  });

  it('never runs a gated job that skipped approval: direct enqueue, a pending request, or other arguments', async () => {
    const env = (id: string, args: Record<string, unknown>, approval?: unknown) => ({
      requestId: id, command: 'zap', args, actor: { userId: ALICE, teamId: TEAM }, origin: { kind: 'slack', channel: CHANNEL }, requestedAt: Date.now(), ...(approval ? { approval } : {}),
    });
    // 1. No approval at all, and a harmless command name on the gated job.
    await rig.queue.add('zap', env('forgednoapproval1', { target: 'web' }), { jobId: 'forgednoapproval1' });
    await rig.queue.add('zap', { ...env('forgednoapproval2', { target: 'web' }), command: 'peek' }, { jobId: 'forgednoapproval2' });
    // 2. A pending request, referenced by a job that claims approval.
    const pending = await rig.request('zap pend');
    await rig.queue.add('zap', env(pending, { target: 'pend' }, { id: pending, approvers: [{ userId: BOB, teamId: TEAM }] }), { jobId: pending });
    for (const id of ['forgednoapproval1', 'forgednoapproval2', pending]) {
      await waitFor(async () => (await rig.queue.getJob(id))?.isFailed(), { what: `${id} to be refused` });
      expect(runs.get(id)).toBeUndefined();
    }
    expect((await rig.queue.getJob('forgednoapproval1'))?.failedReason).toBe('APPROVAL_REQUIRED');
    expect((await rig.queue.getJob(pending))?.failedReason).toBe('APPROVAL_CLOSED');
    expect((await rig.record(pending)).state).toBe('pending');

    // 3. An approved request whose job carries other arguments (the real job is held back: no worker).
    await rig.stopWorker();
    const approved = await rig.request('zap small');
    await rig.click('approve', approved, BOB);
    await rig.waitForState(approved, 'approved');
    await waitFor(() => jobExists(approved), { what: 'the approved job' });
    const job = await rig.queue.getJob(approved);
    await job?.updateData({ ...(job.data as Record<string, unknown>), args: { target: 'everything' } });
    await rig.startWorker();
    await waitFor(async () => (await rig.queue.getJob(approved))?.isFailed(), { what: 'the tampered job to be refused' });
    expect((await rig.queue.getJob(approved))?.failedReason).toBe('APPROVAL_TAMPERED');
    expect(runs.get(approved)).toBeUndefined();
    expect((await rig.record(approved)).state).toBe('failed');
  });

  it('re-checks the approver’s role when the job starts: revoked in config or left the user group, it does not run', async () => {
    await rig.stopWorker();
    const id = await rig.request('zap revoked');
    await rig.click('approve', id, BOB);
    await rig.waitForState(id, 'approved');
    // The worker restarts with a config where Bob is no longer an approver.
    await rig.startWorker(fileConfig(rig.config.redis.prefix, [CAROL]));
    const failed = await rig.waitForState(id, 'failed');
    expect(failed.reason).toMatch(/<@U0BOB> no longer holds the \*approver\* role/);
    expect(runs.get(id)).toBeUndefined();
    const r = await rig.record(id);
    await rig.slack.waitForCall((c) => c.method === 'chat.postMessage' && c.args.thread_ts === r.messageTs && /no longer holds the \*approver\* role/.test(String(c.args.text)), 60_000);

    // Group-based approver: approved while in the group, removed from it before the job starts.
    await rig.stopWorker();
    const viaGroup = await rig.request('zap group');
    await rig.click('approve', viaGroup, GRACE);
    await rig.waitForState(viaGroup, 'approved');
    rig.slack.setUsergroup(APPROVER_GROUP, []);
    // A fresh bot (no cached membership) mirrors the group for the worker on its first sweep.
    await rig.restartBot();
    await waitFor(async () => {
      const raw = await rig.redis.hget(`${rig.config.redis.prefix}:groups`, APPROVER_GROUP);
      return raw && !raw.includes(GRACE);
    }, { what: 'the group mirror to drop Grace' });
    await rig.startWorker();
    expect((await rig.waitForState(viaGroup, 'failed')).reason).toMatch(/U0GRACE> no longer holds/);
    expect(runs.get(viaGroup)).toBeUndefined();
  });

  it('never runs an approved request twice: re-delivery after a crash, before or after it started', async () => {
    const id = await rig.request('zap once');
    await rig.click('approve', id, BOB);
    await rig.waitForState(id, 'executed');
    expect(runs.get(id)).toBe(1);
    // The same job delivered again (what BullMQ does with a stalled job after a worker crash).
    // The request is `executed` a moment before BullMQ marks the job completed (the result and the
    // audit entry are written in between); a job still active cannot be removed.
    await waitFor(async () => (await rig.queue.getJob(id))?.isCompleted(), { what: 'the first run to complete' });
    const first = await rig.queue.getJob(id);
    const data = first?.data as Record<string, unknown>;
    await first?.remove();
    await rig.queue.add('zap', data, { jobId: id });
    await waitFor(async () => (await rig.queue.getJob(id))?.isFailed(), { what: 're-delivered job to be refused' });
    expect((await rig.queue.getJob(id))?.failedReason).toBe('APPROVAL_REUSED');
    expect(runs.get(id)).toBe(1);

    // Crash right after approved → executing (the job never got to run): re-delivery does not run it.
    await rig.stopWorker();
    const crashed = await rig.request('zap crash');
    await rig.click('approve', crashed, BOB);
    await rig.waitForState(crashed, 'approved');
    const r = await rig.record(crashed);
    const started = await rig.store.apply(crashed, { type: 'start', digest: r.digest });
    expect(started).toMatchObject({ outcome: 'executing' });
    await rig.startWorker();
    await waitFor(async () => (await rig.queue.getJob(crashed))?.isFailed(), { what: 'crashed job to be refused' });
    // No run lock (no live worker runs it): the first run was interrupted, and it is not run again.
    expect((await rig.queue.getJob(crashed))?.failedReason).toBe('JOB_INTERRUPTED');
    expect(runs.get(crashed)).toBeUndefined();
    // The bot's sweeper closes the request and tells its thread, once.
    const closed = await rig.waitForState(crashed, 'failed');
    expect(closed.interrupted).toBe(true);
    const told = await waitFor(() => [...rig.slack.messages.values()].find((m) => m.thread_ts === closed.messageTs && /was interrupted/.test(m.text)), { what: 'the thread to be told' });
    expect(told.text).toMatch(/keeps no crash journal, so part of it may have been done/);
    expect([...rig.slack.messages.values()].filter((m) => m.thread_ts === closed.messageTs && /already started once/.test(m.text))).toHaveLength(0);
  });

  it('runs an approved request exactly once if the bot died between approving and enqueuing', async () => {
    const id = await rig.request('zap orphan');
    await rig.stopWorker();
    // Approve without enqueuing, as a bot crash right after the state change would leave it.
    const r = await rig.record(id);
    const res = await rig.store.apply(id, { type: 'approve', by: { userId: BOB, teamId: TEAM }, channel: r.channel, messageTs: r.messageTs as string });
    expect(res).toMatchObject({ outcome: 'approved' });
    expect(await jobExists(id)).toBe(false);
    await rig.startWorker();
    await rig.waitForState(id, 'executed');
    expect(runs.get(id)).toBe(1);
  });
});
