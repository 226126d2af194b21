import { describe, expect, it } from 'vitest';
import { DURATION, durationMs, durationSchema, parseDuration } from '../../src/shared/duration.ts';
import { sinceSchema } from '../../src/shared/contracts/logs.ts';
import { buildConfig } from '../../src/shared/config/load.ts';

describe('the one duration grammar', () => {
  it('reads a whole number from 1 and one unit', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    for (const bad of ['0s', '05m', '5 m', '5', 'm', '1w', '1234567s', '-1h', '1.5h']) expect(parseDuration(bad), bad).toBeUndefined();
    expect(() => durationMs('soon')).toThrow(/not a duration/);
  });

  it('is the grammar of --since, of alerts.errorWindow and of the logs command’s flag words', () => {
    expect(sinceSchema.safeParse('7d').success).toBe(true);
    expect(sinceSchema.safeParse('8d').success).toBe(false);
    expect(sinceSchema.safeParse('1 d').success).toBe(false);
    expect(durationSchema('x', { ms: 60_000, hint: 'at most 1m' }).safeParse('61s').success).toBe(false);
    expect(buildConfig({ stack: { project: 'p' }, alerts: { errorWindow: '10m' } }, {}, '(test)').alerts.errorWindow).toBe('10m');
    expect(() => buildConfig({ stack: { project: 'p' }, alerts: { errorWindow: '10 minutes' } }, {}, '(test)')).toThrow(/errorWindow/);
    expect(DURATION.test('15m')).toBe(true);
  });
});
