import { describe, expect, it } from 'vitest';
import { InFlight } from '../../src/bot/in-flight.ts';

describe('in-flight commands at a graceful stop', () => {
  it('waits for what is running, including work that starts while it waits, and forgets what settled', async () => {
    const f = new InFlight();
    const done: string[] = [];
    let release: () => void = () => undefined;
    f.track(new Promise<void>((r) => (release = r)).then(() => void done.push('first')));
    f.track(Promise.reject(new Error('a failed enqueue still counts as finished'))).catch(() => undefined);
    const drained = f.drain(60_000).then(() => done.push('drained'));
    // Started while drain waits: drained only after it too.
    let releaseLate: () => void = () => undefined;
    f.track(new Promise<void>((r) => (releaseLate = r)).then(() => void done.push('late')));
    release();
    await new Promise((r) => setImmediate(r));
    releaseLate();
    await drained;
    expect(done).toEqual(['first', 'late', 'drained']);
    expect(f.size).toBe(0);
  });

  it('gives up after its bound on work that never ends, and says how much is left', async () => {
    const f = new InFlight();
    f.track(new Promise(() => undefined));
    await f.drain(20);
    expect(f.size).toBe(1);
  });
});
