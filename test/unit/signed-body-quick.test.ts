import { describe, expect, it } from 'vitest';
import { quickSlashCommand, schemaSlashCommand } from '../../src/bot/signed-body.ts';
import { slashCommandBody } from '../support/slack-sign.ts';

// The ack's hot path checks slash commands by hand; it must accept and refuse exactly what the schema does.
describe('slash command quick check = the zod schema', () => {
  const base = new URLSearchParams(slashCommandBody({ text: 'status', user_id: 'U1X' }));
  const variants: [string, (f: URLSearchParams) => void][] = [
    ['as sent', () => undefined],
    ['no text', (f) => f.delete('text')],
    ['empty text', (f) => f.set('text', '')],
    ['text at 4000', (f) => f.set('text', 'a'.repeat(4000))],
    ['text over 4000', (f) => f.set('text', 'a'.repeat(4001))],
    ['no command', (f) => f.delete('command')],
    ['command without slash', (f) => f.set('command', 'cdb')],
    ['command uppercase', (f) => f.set('command', '/CDB')],
    ['command 33 long', (f) => f.set('command', `/${'a'.repeat(33)}`)],
    ['no user', (f) => f.delete('user_id')],
    ['empty user', (f) => f.set('user_id', '')],
    ['user 65 long', (f) => f.set('user_id', 'U'.repeat(65))],
    ['no team', (f) => f.delete('team_id')],
    ['no channel', (f) => f.delete('channel_id')],
    ['channel 64 long', (f) => f.set('channel_id', 'C'.repeat(64))],
    ['trigger 201 long', (f) => f.set('trigger_id', 't'.repeat(201))],
    ['no trigger', (f) => f.delete('trigger_id')],
    ['response_url 501 long', (f) => f.set('response_url', `https://x/${'a'.repeat(491)}`)],
    ['extra field', (f) => f.set('api_app_id', 'A1')],
    ['unicode text', (f) => f.set('text', 'status ✓ 🚀')],
  ];
  for (const [name, change] of variants) {
    it(name, () => {
      const form = new URLSearchParams(base);
      change(form);
      expect(quickSlashCommand(Object.fromEntries(form))).toEqual(schemaSlashCommand(Object.fromEntries(form)));
    });
  }
});
