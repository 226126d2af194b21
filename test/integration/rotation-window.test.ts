// The api-key `_old` window ends by itself: the rotation's finish step schedules a BullMQ delayed job
// (in Redis), the worker that scheduled it is killed, and the next worker runs the job when the
// window is over: `_old` is emptied in place, the container sees it, the old key is refused.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRotationStack, type RotationStack } from './rotation-fixture.ts';
import { startRigFor, type RotationRig } from './rotation-rig.ts';
import { waitFor } from '../support/compose-stack.ts';

let stack: RotationStack;
let rig: RotationRig;
const WINDOW_SECONDS = 2;

const apiCall = (key: string) => stack.exec('api', ['sh', '-c', `wget -q -O- --header 'X-Api-Key: ${key}' http://127.0.0.1:8080/cgi-bin/check | grep -q '^ok'`]);
const sees = async (file: string) => (await stack.exec('api', ['cat', `/run/secrets/${file}`])).out.trim();

beforeAll(async () => {
  stack = await startRotationStack({ kinds: ['api'] });
  const config = stack.secretsConfig().map((c) => (c.name === 'internal_api_key' ? { ...c, options: { ...(c.options as object), windowHours: WINDOW_SECONDS / 3600 } } : c));
  rig = await startRigFor(stack.project, config, { stateDir: stack.stateDir });
  await rig.startWorker();
}, 600_000);

afterAll(async () => {
  await rig?.close();
  await stack?.down();
});

describe('api-key: the _old window ends on its own through the delayed job', () => {
  it('survives a SIGKILL of the worker that scheduled it: the next worker empties _old when the window is over', { timeout: 480_000 }, async () => {
    const old = (await readFile(stack.path('api_key'), 'utf8')).trim();
    const id = await rig.rotate('rotate internal_api_key');
    const journal = await rig.waitDone('internal_api_key', id);
    expect(journal.status).toBe('succeeded');
    const fresh = (await readFile(stack.path('api_key'), 'utf8')).trim();
    expect(fresh).not.toBe(old);
    expect(await sees('api_key_old')).toBe(old);
    const until = journal.state.windowUntil as number;
    expect(typeof until).toBe('number');
    // The window's end is a job in Redis, not a timer in the worker: kill the worker outright.
    await rig.killWorker('SIGKILL');
    const delayed = await rig.redis.zrange(`${rig.prefix}:q:jobs:delayed`, 0, -1);
    expect(delayed.some((j) => j.includes('window'))).toBe(true);
    // No worker runs while the window ends; the old key is still accepted.
    await waitFor(() => Date.now() > until, { what: 'the window to end', timeoutMs: 60_000, intervalMs: 100 });
    expect((await apiCall(old)).code).toBe(0);
    await rig.startWorker();
    await waitFor(async () => (await readFile(stack.path('api_key_old'), 'utf8')) === '' && (await sees('api_key_old')) === '', { what: '_old to be emptied by the delayed job', timeoutMs: 180_000, intervalMs: 250 });
    await waitFor(async () => (await rig.journal('internal_api_key'))?.status === 'succeeded' && !(await rig.redis.sismember(`${rig.prefix}:rotation:active`, 'internal_api_key')), { what: 'the window-end rotation to finish', timeoutMs: 120_000, intervalMs: 250 });
    expect((await rig.journal('internal_api_key'))?.args.mode).toBe('finish');
    expect((await apiCall(old)).code).not.toBe(0);
    expect((await apiCall(fresh)).code).toBe(0);
    expect((await rig.redis.zrange(`${rig.prefix}:q:jobs:delayed`, 0, -1)).some((j) => j.includes('window'))).toBe(false);
  });
});
