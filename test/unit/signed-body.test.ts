import { describe, expect, it } from 'vitest';
import { checkSignedBody } from '../../src/bot/signed-body.ts';
import { blockActionsBody, slashCommandBody } from '../support/slack-sign.ts';
import { subcommandWord, signedRequestId } from '../../src/bot/request-guard.ts';

const FORM = 'application/x-www-form-urlencoded';

describe('signed body shapes (the gate in front of Bolt)', () => {
  it('accepts what Slack sends: slash commands, clicks, view submissions, events, ssl_check', () => {
    expect(checkSignedBody(slashCommandBody({ text: 'status web', user_id: 'U1X' }), FORM)).toMatchObject({ ok: true, body: { kind: 'command', userId: 'U1X', text: 'status web', command: '/cdb', fields: { text: 'status web', user_id: 'U1X' } } });
    const click = { type: 'block_actions', user: { id: 'U1X', team_id: 'T1' }, team: { id: 'T1' }, actions: [{ action_id: 'cdb_approve', value: 'abc' }] };
    expect(checkSignedBody(blockActionsBody(click), FORM)).toMatchObject({ ok: true, body: { kind: 'interactive', type: 'block_actions' } });
    const view = { type: 'view_submission', user: { id: 'U1X' }, view: { id: 'V1', callback_id: 'cb', private_metadata: '{}', state: { values: { b: { a: { type: 'plain_text_input', value: '1' } } } } } };
    expect(checkSignedBody(blockActionsBody(view), `${FORM}; charset=utf-8`)).toMatchObject({ ok: true });
    expect(checkSignedBody(JSON.stringify({ type: 'event_callback', event_id: 'Ev1', event: { type: 'app_mention' } }), 'application/json')).toEqual({ ok: true, body: { kind: 'event', eventId: 'Ev1' } });
    expect(checkSignedBody(JSON.stringify({ type: 'url_verification', challenge: 'x' }), 'application/json')).toMatchObject({ ok: true });
    expect(checkSignedBody('ssl_check=1&token=x', FORM)).toEqual({ ok: true, body: { kind: 'ssl_check' } });
  });

  it('refuses null, non-objects, missing users, object values and repeated fields, saying why', () => {
    const bad: [string, string][] = [
      ['payload=null', 'payload is not an object'],
      ['payload=%5B%5D', 'payload is not an object'],
      [blockActionsBody({ type: 'block_actions', actions: [{ action_id: 'a' }] }), 'malformed interactive payload (type block_actions)'],
      [blockActionsBody({ type: 'block_actions', user: { id: 'U1' }, actions: [{ action_id: 'a', value: { x: 1 } }] }), 'malformed interactive payload (type block_actions)'],
      [`${slashCommandBody({ text: 'x' })}&user_id=U2`, 'a form field is repeated'],
      ['command=%2Fcdb&text=x', 'malformed slash command'],
    ];
    for (const [body, why] of bad) expect(checkSignedBody(body, FORM)).toEqual({ ok: false, why });
    expect(checkSignedBody('null', 'application/json')).toEqual({ ok: false, why: 'JSON body is not an object' });
    expect(checkSignedBody('{}', 'text/plain')).toEqual({ ok: false, why: 'unexpected content type text/plain' });
  });

  it('keys replays by signature, counts by subcommand word', () => {
    expect(signedRequestId('v0=ab12')).toBe(signedRequestId('v0=ab12'));
    expect(signedRequestId('v0=ab12')).not.toBe(signedRequestId('v0=ab13'));
    expect(subcommandWord('  Doctor ports')).toBe('doctor');
    expect(subcommandWord('')).toBe('help');
  });
});
