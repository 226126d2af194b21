// Step-up enrollment by DM carries the otpauth link as a QR code too: a PNG uploaded into the DM
// through Slack's real upload flow (files.getUploadURLExternal → upload → files.completeUploadExternal),
// made from the very link the message shows, deleted with the message on confirmation; the secret
// is nowhere else (logs at debug level, the audit stream, Redis in clear, other Slack calls).
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret, TOTP } from 'otpauth';
import enrollCommand from '../../commands/enroll.ts';
import type { AnyCommand } from '../../src/shared/registry/define-command.ts';
import { buildRegistry } from '../../src/shared/registry/registry.ts';
import { createLogger } from '../../src/shared/log.ts';
import { enrollmentQr } from '../../src/bot/enrollment-qr.ts';
import { CODE_ACTION, CODE_BLOCK, STEPUP_CONFIRM_ACTION, STEPUP_ENROLL_VIEW } from '../../src/bot/step-up.ts';
import { blockActionsBody, freshTriggerId, postSigned, viewSubmissionBody } from '../support/slack-sign.ts';
import { waitFor } from '../support/compose-stack.ts';
import { BOB, SIGNING_SECRET, TEAM, registry, startRig, type Rig } from './approval-harness.ts';

const STEPUP_KEY = 'stepup-key-for-tests-9b1d4e7a2c5f8e0b3d6a';
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe('step-up enrollment DM: the link and its QR code, shown once', () => {
  let rig: Rig;
  const lines: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } });
    rig = await startRig({
      file: { security: { rateLimits: { enabled: false }, stepUp: { commands: ['zap'] } } },
      env: { CDB_STEPUP_KEY: STEPUP_KEY },
      registry: buildRegistry([...registry.values(), enrollCommand as AnyCommand]),
      log: createLogger({ level: 'debug', destination: sink }),
    });
  });
  afterAll(async () => {
    await rig?.close();
  });

  it('uploads a PNG of the same otpauth URI into the DM, deletes both on confirmation, and the secret is nowhere else', async () => {
    const callMark = rig.slack.calls.length;
    expect(await rig.slash('enroll', BOB)).toContain('I sent you a direct message');
    const dm = await rig.slack.waitForCall((c) => rig.slack.calls.indexOf(c) >= callMark && c.method === 'chat.postMessage' && c.args.channel === BOB);
    const uri = /otpauth:\/\/totp\/[^`\s]+/.exec(String(dm.args.text))?.[0] ?? '';
    const secret = new URL(uri).searchParams.get('secret') ?? '';
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(String(dm.args.text)).toContain('scan the QR code');

    // The real upload flow, into the DM channel the message went to.
    const dmChannel = `D${BOB.slice(1)}`;
    const upload = await waitFor(() => rig.slack.uploads.find((u) => u.completed && u.channel_id === dmChannel), { what: 'the QR code upload', timeoutMs: 30_000 });
    const methods = rig.slack.calls.slice(callMark).map((c) => c.method);
    expect(methods).toEqual(expect.arrayContaining(['files.getUploadURLExternal', 'files.completeUploadExternal']));
    expect(upload.filename).toBe('cdb-enrollment-qr.png');
    expect(upload.content?.subarray(0, 8)).toEqual(PNG_MAGIC);
    // Made from that very link: the same URI gives the same bytes.
    expect(upload.content?.equals(await enrollmentQr(uri))).toBe(true);
    expect(upload.content?.equals(await enrollmentQr(uri.replace(secret, 'A'.repeat(32))))).toBe(false);

    // Confirm with a first code: the message and the QR code are deleted.
    const totp = new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) });
    const mark = rig.slack.views.length;
    const click = { type: 'block_actions', api_app_id: 'A123456', token: 'legacy', trigger_id: freshTriggerId(), team: { id: TEAM }, user: { id: BOB, team_id: TEAM },
      container: { type: 'message', channel_id: dmChannel, message_ts: '1.1' }, actions: [{ type: 'button', action_id: STEPUP_CONFIRM_ACTION, value: 'confirm', action_ts: '1.2' }] };
    expect((await postSigned(rig.eventsUrl, blockActionsBody(click), SIGNING_SECRET)).status).toBe(200);
    const view = await waitFor(() => rig.slack.views.slice(mark).find((v) => v.callback_id === STEPUP_ENROLL_VIEW), { what: 'the confirm dialog', timeoutMs: 30_000 });
    const res = await postSigned(rig.eventsUrl, viewSubmissionBody(view, { id: BOB, team_id: TEAM }, { [CODE_BLOCK]: { [CODE_ACTION]: totp.generate() } }), SIGNING_SECRET);
    expect(res.status).toBe(200);
    await rig.slack.waitForCall((c) => rig.slack.calls.indexOf(c) >= callMark && c.method === 'chat.delete' && c.args.channel === dmChannel);
    await rig.slack.waitForCall((c) => rig.slack.calls.indexOf(c) >= callMark && c.method === 'files.delete' && c.args.file === upload.file_id);
    expect(upload.deleted).toBe(true);

    // The secret went out once (the DM text) and the QR image once; nowhere else.
    const withSecret = rig.slack.calls.filter((c) => JSON.stringify(c.args).includes(secret));
    expect(withSecret.map((c) => c.method)).toEqual(['chat.postMessage']);
    expect(rig.slack.uploads.filter((u) => u.text?.includes(secret))).toHaveLength(0);
    await waitFor(() => lines.some((l) => l.includes('"audit":true') && l.includes('enroll')), { what: 'the enrollment audit line', timeoutMs: 10_000 });
    expect(lines.join('')).not.toContain(secret);
    const audit = await rig.redis.xrange(`${rig.config.redis.prefix}:audit`, '-', '+');
    expect(JSON.stringify(audit)).not.toContain(secret);
    for (const key of await rig.redis.keys(`${rig.config.redis.prefix}:*`)) {
      const type = await rig.redis.type(key);
      const dump = type === 'string' ? await rig.redis.get(key) : type === 'hash' ? JSON.stringify(await rig.redis.hgetall(key)) : '';
      expect(dump ?? '', key).not.toContain(secret);
    }
  }, 120_000);
});
