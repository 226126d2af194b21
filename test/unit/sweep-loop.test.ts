import { describe, expect, it } from 'vitest';
import { startSweepLoop } from '../../src/shared/sweep-loop.ts';

/** Resolves once `cond` holds (checked on every macrotask); no fixed sleeps. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

describe('the shared sweep loop', () => {
  it('runs a pass at start and then again, never two at once; a failing pass is reported and the loop goes on', async () => {
    let passes = 0;
    let running = 0;
    let maxRunning = 0;
    const errors: unknown[] = [];
    const loop = startSweepLoop({
      everyMs: 1,
      onError: (err) => errors.push(err),
      sweep: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        passes++;
        await new Promise((r) => setImmediate(r));
        running--;
        if (passes === 2) throw new Error('boom');
      },
    });
    expect(passes).toBe(1);
    await until(() => passes >= 5);
    await loop.stop();
    expect(maxRunning).toBe(1);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('boom');
  });

  it('stop() waits for the running pass, and no pass starts after it', async () => {
    let release: () => void = () => undefined;
    let passes = 0;
    let finished = false;
    const loop = startSweepLoop({
      everyMs: 1,
      onError: () => undefined,
      sweep: async () => {
        passes++;
        await new Promise<void>((r) => (release = r));
        finished = true;
      },
    });
    const stopped = loop.stop();
    let done = false;
    void stopped.then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    release();
    await stopped;
    expect(finished).toBe(true);
    const after = passes;
    await new Promise((r) => setTimeout(r, 20));
    expect(passes).toBe(after);
  });
});
