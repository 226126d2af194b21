import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/main/run-cli.ts';
import { Secret, TOTP } from 'otpauth';
import enrollCommand from '../../commands/enroll.ts';
import type { AnyCommand } from '../../src/shared/registry/define-command.ts';
import { buildRegistry } from '../../src/shared/registry/registry.ts';
import { CODE_ACTION, CODE_BLOCK, STEPUP_APPROVE_VIEW, STEPUP_CONFIRM_ACTION, STEPUP_ENROLL_VIEW } from '../../src/bot/step-up.ts';
import { blockActionsBody, freshTriggerId, postSigned, viewSubmissionBody } from '../support/slack-sign.ts';
import type { SlackView } from '../support/slack-standin.ts';
import { waitFor } from '../support/compose-stack.ts';
import { ALICE, BOB, CAROL, CHANNEL, SIGNING_SECRET, TEAM, registry, runs, startRig, type Rig } from './approval-harness.ts';

const STEPUP_KEY = 'stepup-key-for-tests-3f7a9c2e5b8d1f4a6c0e';

describe('step-up: one-time codes (RFC 6238) for the riskiest approvals', () => {
  let rig: Rig;
  const secrets = new Map<string, string>();

  beforeAll(async () => {
    rig = await startRig({
      file: { security: { rateLimits: { enabled: false }, stepUp: { commands: ['zap'], maxFailures: 3, lockoutMinutes: 10 } } },
      env: { CDB_STEPUP_KEY: STEPUP_KEY },
      registry: buildRegistry([...registry.values(), enrollCommand as AnyCommand]),
    });
  });
  afterAll(async () => {
    await rig?.close();
  });

  const totp = (user: string): TOTP => new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secrets.get(user) ?? '') });
  /** A code that is wrong now and for a minute either side. */
  const wrongCode = (user: string): string => {
    const near = new Set([-60, -30, 0, 30, 60].map((s) => totp(user).generate({ timestamp: Date.now() + s * 1000 })));
    let n = 123456;
    while (near.has(String(n).padStart(6, '0'))) n = (n + 7919) % 1_000_000;
    return String(n).padStart(6, '0');
  };
  const viewAfter = (mark: number, callbackId: string): Promise<SlackView> =>
    waitFor(() => rig.slack.views.slice(mark).find((v) => v.callback_id === callbackId), { what: `a ${callbackId} modal`, timeoutMs: 30_000 });
  const submit = async (view: SlackView, user: string, code: string): Promise<{ status: number; errors?: Record<string, string> }> => {
    const res = await postSigned(rig.eventsUrl, viewSubmissionBody(view, { id: user, team_id: TEAM }, { [CODE_BLOCK]: { [CODE_ACTION]: code } }), SIGNING_SECRET);
    const text = await res.text();
    return { status: res.status, errors: text ? (JSON.parse(text) as { errors?: Record<string, string> }).errors : undefined };
  };
  /** Approve click → the code dialog (or a refusal), like an approver in Slack. */
  const clickApprove = async (id: string, user: string): Promise<number> => {
    const mark = rig.slack.views.length;
    expect((await rig.click('approve', id, user)).status).toBe(200);
    return mark;
  };

  async function enroll(user: string): Promise<void> {
    const callMark = rig.slack.calls.length;
    expect(await rig.slash('enroll', user)).toContain('I sent you a direct message');
    const dm = await rig.slack.waitForCall((c) => rig.slack.calls.indexOf(c) >= callMark && c.method === 'chat.postMessage' && c.args.channel === user);
    const uri = /otpauth:\/\/totp\/[^`\s]+/.exec(String(dm.args.text))?.[0] ?? '';
    const secret = new URL(uri).searchParams.get('secret') ?? '';
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    secrets.set(user, secret);
    // Stored encrypted: the secret is nowhere in Redis in clear.
    const stored = (await rig.redis.get(`${rig.config.redis.prefix}:stepup:secret:${user}`)) ?? '';
    expect(stored).toContain('"ct"');
    expect(stored).not.toContain(secret);
    // Confirm: the button in the DM opens a dialog; the first code activates the enrollment.
    const mark = rig.slack.views.length;
    const click = { type: 'block_actions', api_app_id: 'A123456', token: 'legacy', trigger_id: freshTriggerId(), team: { id: TEAM }, user: { id: user, team_id: TEAM },
      container: { type: 'message', channel_id: `D${user.slice(1)}`, message_ts: '1.1' }, actions: [{ type: 'button', action_id: STEPUP_CONFIRM_ACTION, value: 'confirm', action_ts: '1.2' }] };
    expect((await postSigned(rig.eventsUrl, blockActionsBody(click), SIGNING_SECRET)).status).toBe(200);
    const view = await viewAfter(mark, STEPUP_ENROLL_VIEW);
    expect(await submit(view, user, totp(user).generate())).toEqual({ status: 200, errors: undefined });
    // The message that showed the secret is deleted once the enrollment is confirmed.
    await rig.slack.waitForCall((c) => rig.slack.calls.indexOf(c) >= callMark && c.method === 'chat.delete' && c.args.channel === `D${user.slice(1)}`);
    expect([...rig.slack.messages.values()].some((m) => m.text.includes(secret))).toBe(false);
  }

  it('an approver who is not enrolled is told how to enroll and cannot approve', async () => {
    const id = await rig.request('zap web');
    const mark = rig.slack.calls.length;
    await clickApprove(id, BOB);
    const told = await rig.ephemeral(BOB, mark, /not enrolled/);
    expect(String(told.args.text)).toContain('/cdb enroll');
    expect((await rig.record(id)).state).toBe('pending');
    const audit = await rig.auditFor(id);
    expect(audit.some((e) => e.code === 'STEPUP_NOT_ENROLLED')).toBe(true);
  });

  it('enrolls by DM: the secret is shown once, stored encrypted, confirmed with a first code; no second enrollment from chat', async () => {
    await enroll(BOB);
    const again = await rig.slash('enroll', BOB);
    expect(again).toContain('already enrolled');
  });

  it('approval needs the code: no code refused, a wrong code refused and counted, the right code approves once, the same code again is refused', async () => {
    const id = await rig.request('zap api');
    let view = await viewAfter(await clickApprove(id, BOB), STEPUP_APPROVE_VIEW);
    expect(JSON.parse(view.private_metadata ?? '{}')).toMatchObject({ id, channel: CHANNEL, by: { userId: BOB } });
    // The click alone approves nothing.
    expect((await rig.record(id)).state).toBe('pending');

    const empty = await submit(view, BOB, '');
    expect(empty.errors?.[CODE_BLOCK]).toMatch(/Enter the 6 digits/);
    const wrong = await submit(view, BOB, wrongCode(BOB));
    expect(wrong.errors?.[CODE_BLOCK]).toMatch(/not right\. 2 more wrong code\(s\) before a lockout/);
    expect((await rig.record(id)).state).toBe('pending');
    expect((await rig.auditFor(id)).filter((e) => e.code === 'STEPUP_BAD_CODE')).toHaveLength(1);

    // The current code confirmed the enrollment moments ago and codes are single use: the app's next
    // code is accepted already (one step of clock drift is allowed either way).
    const code = totp(BOB).generate({ timestamp: Date.now() + 30_000 });
    expect(await submit(view, BOB, code)).toEqual({ status: 200, errors: undefined });
    await rig.waitForState(id, 'executed');
    expect(runs.get(id)).toBe(1);
    // A wrong code is forgotten after a right one.
    expect(await rig.redis.get(`${rig.config.redis.prefix}:stepup:fail:${BOB}`)).toBeNull();

    const id2 = await rig.request('zap db');
    view = await viewAfter(await clickApprove(id2, BOB), STEPUP_APPROVE_VIEW);
    const reused = await submit(view, BOB, code);
    expect(reused.errors?.[CODE_BLOCK]).toMatch(/already used once/);
    expect((await rig.record(id2)).state).toBe('pending');
    expect((await rig.auditFor(id2)).some((e) => e.code === 'STEPUP_CODE_USED')).toBe(true);
    expect(runs.get(id2)).toBeUndefined();
  });

  it('only the approver who clicked can submit the dialog', async () => {
    const id = await rig.request('zap cache');
    const view = await viewAfter(await clickApprove(id, BOB), STEPUP_APPROVE_VIEW);
    await enroll(CAROL);
    const other = await submit(view, CAROL, totp(CAROL).generate());
    expect(other.errors?.[CODE_BLOCK]).toMatch(/Only the approver who clicked/);
    expect((await rig.record(id)).state).toBe('pending');
  });

  it('wrong codes lock the approver out of step-up for a while, even with the right code', async () => {
    const id = await rig.request('zap queue');
    const view = await viewAfter(await clickApprove(id, CAROL), STEPUP_APPROVE_VIEW);
    expect((await submit(view, CAROL, wrongCode(CAROL))).errors?.[CODE_BLOCK]).toMatch(/2 more/);
    expect((await submit(view, CAROL, wrongCode(CAROL))).errors?.[CODE_BLOCK]).toMatch(/1 more/);
    expect((await submit(view, CAROL, wrongCode(CAROL))).errors?.[CODE_BLOCK]).toMatch(/now locked out/);
    expect((await submit(view, CAROL, totp(CAROL).generate())).errors?.[CODE_BLOCK]).toMatch(/locked for you for 10 minutes/);
    expect((await rig.record(id)).state).toBe('pending');
    // A new click is refused at once while locked out.
    const mark = rig.slack.calls.length;
    await clickApprove(id, CAROL);
    await rig.ephemeral(CAROL, mark, /locked for you/);
    expect((await rig.auditFor(id)).some((e) => e.code === 'STEPUP_LOCKED')).toBe(true);
    expect(runs.get(id)).toBeUndefined();
  });

  it('a lost phone is reset on the bot host (cdb stepup reset), after which the approver enrolls again', async () => {
    let out = '';
    const sink = new Writable({ write(c, _e, cb) { out += String(c); cb(); } });
    const code = await runCli({ argv: ['stepup', 'reset', CAROL], loadConfig: () => rig.config, user: 'ops', log: rig.log, stdout: sink, stderr: sink });
    expect(code).toBe(0);
    expect(out).toContain(`enrollment of ${CAROL} removed`);
    expect(await rig.redis.exists(`${rig.config.redis.prefix}:stepup:secret:${CAROL}`, `${rig.config.redis.prefix}:stepup:lock:${CAROL}`)).toBe(0);
    expect(await rig.slash('enroll', CAROL)).toContain('I sent you a direct message');
  });

  it('commands without step-up keep the plain click (the requester is Alice, as always)', async () => {
    expect(rig.config.security.stepUp.commands).toEqual(['zap']);
    const id = await rig.request('zap2 x', ALICE);
    const before = rig.slack.views.length;
    await rig.click('approve', id, BOB);
    await rig.click('approve', id, CAROL);
    await rig.waitForState(id, 'executed');
    expect(rig.slack.views.length).toBe(before);
  });
});
