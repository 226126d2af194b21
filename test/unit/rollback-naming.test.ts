import { describe, expect, it } from 'vitest';
import { isTagName, rollbackArgs, tagTarget } from '../../src/shared/contracts/rollback.ts';
import { assertTagName, newTagName, repoComponent, rollbackRef, stamp, tagOfRef } from '../../src/features/rollback/naming.ts';
import { OpsError } from '../../src/shared/errors.ts';

describe('rollback tag names', () => {
  it.each([
    'rollback-20251224-153000',
    'pre-rollback-20251224-153000',
    'rollback-20251224-153000-before-migration',
    'rollback-20251224-153000-a',
  ])('accepts %s', (name) => {
    expect(isTagName(name)).toBe(true);
    expect(() => assertTagName(name)).not.toThrow();
  });

  it.each([
    '',
    'latest',
    'rollback',
    'rollback-2025122-153000',
    'rollback-20251224-15300',
    'Rollback-20251224-153000',
    'rollback-20251224-153000-UPPER',
    'rollback-20251224-153000-label-that-is-far-too-long',
    'rollback-20251224-153000;rm -rf /',
    '../rollback-20251224-153000',
    'rollback-20251224-153000/../../etc',
    'rollback-20251224-153000\n',
    'post-rollback-20251224-153000',
  ])('rejects %j', (name) => {
    expect(isTagName(name)).toBe(false);
    expect(() => assertTagName(name)).toThrow(OpsError);
  });

  it('allows latest as a target but not as a stored name', () => {
    expect(tagTarget.safeParse('latest').success).toBe(true);
    expect(tagTarget.safeParse('rollback-20251224-153000').success).toBe(true);
    expect(tagTarget.safeParse('newest').success).toBe(false);
  });

  it('formats UTC stamps and appends labels', () => {
    const d = new Date(Date.UTC(2025, 11, 24, 15, 30, 0));
    expect(stamp(d)).toBe('20251224-153000');
    expect(newTagName('rollback', d)).toBe('rollback-20251224-153000');
    expect(newTagName('pre-rollback', d, 'x-1')).toBe('pre-rollback-20251224-153000-x-1');
  });

  it('validates rollback job arguments', () => {
    expect(rollbackArgs.safeParse({ tag: 'latest' }).success).toBe(true);
    expect(rollbackArgs.safeParse({ tag: 'rollback-20251224-153000', services: ['web', 'db'] }).success).toBe(true);
    expect(rollbackArgs.safeParse({ clear: true }).success).toBe(true);
    expect(rollbackArgs.safeParse({}).success).toBe(false);
    expect(rollbackArgs.safeParse({ clear: true, tag: 'latest' }).success).toBe(false);
    expect(rollbackArgs.safeParse({ tag: 'rollback-x' }).success).toBe(false);
    expect(rollbackArgs.safeParse({ tag: 'latest', services: ['we b'] }).success).toBe(false);
    expect(rollbackArgs.safeParse({ tag: 'latest', expectPlan: 'nothex' }).success).toBe(false);
  });
});

describe('rollback image references', () => {
  it('uses compose names as they are when Docker accepts them', () => {
    expect(repoComponent('web')).toBe('web');
    expect(repoComponent('my_app.db-1')).toBe('my_app.db-1');
    expect(rollbackRef('cdb', 'web', 'rollback-20251224-153000')).toBe('cdb-rollback/cdb/web:rollback-20251224-153000');
  });

  it('cleans names Docker rejects, with a hash so two names never collide', () => {
    const a = repoComponent('Web');
    const b = repoComponent('web-');
    expect(a).toMatch(/^web-[a-f0-9]{6}$/);
    expect(b).toMatch(/^web-[a-f0-9]{6}$/);
    expect(a).not.toBe(b);
    expect(repoComponent('a..b')).toMatch(/^a-b-[a-f0-9]{6}$/);
  });

  it('reads the tag back from our references only', () => {
    expect(tagOfRef('cdb-rollback/cdb/web:rollback-20251224-153000')).toBe('rollback-20251224-153000');
    expect(tagOfRef('nginx:rollback-20251224-153000')).toBeUndefined();
    expect(tagOfRef('cdb-rollback/cdb/web:latest')).toBeUndefined();
  });
});
