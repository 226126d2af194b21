import { describe, expect, it } from 'vitest';
import { tokenize } from '../../src/shared/registry/tokenize.ts';
import { OpsError } from '../../src/shared/errors.ts';

describe('tokenize', () => {
  it('splits words, quoted words and both flag forms', () => {
    expect(tokenize('logs web "connection refused" --since 15m --limit=20 --json')).toEqual({
      words: ['logs', 'web', 'connection refused', '15m'],
      flags: { since: true, limit: '20', json: true },
    });
  });

  it('keeps typographic quotes from Slack clients together', () => {
    expect(tokenize('logs web \u201cbad thing\u201d').words).toEqual(['logs', 'web', 'bad thing']);
  });

  it('keeps shell metacharacters as plain text: nothing here is ever given to a shell', () => {
    expect(tokenize('status $(reboot);`id`|x').words).toEqual(['status', '$(reboot);`id`|x']);
  });

  it.each([
    ['status "open', /quote is not closed/],
    ['status -x', /not a valid option/],
    ['status --a --a', /given twice/],
    ['x'.repeat(2001), /too long/],
  ])('refuses %s', (input, message) => {
    expect(() => tokenize(input)).toThrowError(message);
    try {
      tokenize(input);
    } catch (err) {
      expect(err).toBeInstanceOf(OpsError);
      expect((err as OpsError).code).toBe('BAD_ARGUMENTS');
    }
  });

  it('accepts negative numbers as words', () => {
    expect(tokenize('x -5').words).toEqual(['x', '-5']);
  });
});
