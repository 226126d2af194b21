import { describe, expect, it } from 'vitest';
import { dependencyWaves, runInOrder } from '../../src/features/rollback/dag.ts';

const deps = (o: Record<string, string[]>) => new Map(Object.entries(o).map(([k, v]) => [k, new Set(v)]));

describe('dependencyWaves', () => {
  it('puts dependencies first and independent services together', () => {
    expect(dependencyWaves(['web', 'db', 'cache', 'worker'], deps({ web: ['db', 'cache'], worker: ['db'] }))).toEqual([['cache', 'db'], ['web', 'worker']]);
  });

  it('ignores dependencies outside the set', () => {
    expect(dependencyWaves(['web'], deps({ web: ['db'] }))).toEqual([['web']]);
  });

  it('turns a cycle into a last group instead of hanging', () => {
    expect(dependencyWaves(['a', 'b', 'c'], deps({ a: ['b'], b: ['a'] }))).toEqual([['c'], ['a', 'b']]);
  });
});

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('runInOrder', () => {
  it('starts a service only after its dependencies succeeded, independent ones in parallel', async () => {
    const d = deps({ web: ['db'], worker: ['db'] });
    const log: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const out = await runInOrder(dependencyWaves(['web', 'worker', 'db', 'cache'], d), d, 8, async (n) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      log.push(`start ${n}`);
      await tick();
      log.push(`end ${n}`);
      inFlight--;
      return true;
    });
    expect([...out.values()].every((o) => o === 'ok')).toBe(true);
    expect(log.indexOf('end db')).toBeLessThan(log.indexOf('start web'));
    expect(log.indexOf('end db')).toBeLessThan(log.indexOf('start worker'));
    expect(maxInFlight).toBe(2);
  });

  it('starts nothing new after a failure and reports what never started', async () => {
    const d = deps({ web: ['db'] });
    const out = await runInOrder(dependencyWaves(['web', 'db', 'cache'], d), d, 8, async (n) => {
      await tick();
      return n !== 'db';
    });
    expect(out.get('db')).toBe('failed');
    expect(out.get('cache')).toBe('ok');
    expect(out.get('web')).toBe('not-started');
  });

  it('treats a throw as a failure', async () => {
    const out = await runInOrder([['a']], new Map(), 1, async () => {
      throw new Error('boom');
    });
    expect(out.get('a')).toBe('failed');
  });

  it('in best-effort mode runs everything, dependencies first', async () => {
    const d = deps({ web: ['db'] });
    const order: string[] = [];
    const out = await runInOrder(dependencyWaves(['web', 'db'], d), d, 8, async (n) => {
      order.push(n);
      return n !== 'db';
    }, true);
    expect(order).toEqual(['db', 'web']);
    expect(out.get('web')).toBe('ok');
  });

  it('respects the limit', async () => {
    let inFlight = 0;
    let max = 0;
    await runInOrder([['a', 'b', 'c', 'd', 'e']], new Map(), 2, async () => {
      inFlight++;
      max = Math.max(max, inFlight);
      await tick();
      inFlight--;
      return true;
    });
    expect(max).toBe(2);
  });
});
