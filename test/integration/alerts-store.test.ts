import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { runAlertCheck, type CheckDeps } from '../../src/features/alerts/check.ts';
import type { OutgoingNotice } from '../../src/features/alerts/render.ts';
import { VersionedHash } from '../../src/features/alerts/store.ts';
import { acquireLock } from '../../src/shared/lock.ts';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createLogger } from '../../src/shared/log.ts';
import { createDocker } from '../../src/host/docker-client.ts';
import { randomSuffix, startComposeStack, waitFor, type ComposeStack } from '../support/compose-stack.ts';
import { REDIS_URL } from '../support/harness.ts';

const loop = ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'];

describe('alert state shared by several workers through one Redis', () => {
  const prefix = `cdbt-${randomSuffix()}`;
  const a = new Redis(REDIS_URL);
  const b = new Redis(REDIS_URL);
  let stack: ComposeStack;

  beforeAll(async () => {
    stack = await startComposeStack({
      project: `cdbt${randomSuffix()}`,
      services: {
        crashloop: { command: ['sh', '-c', 'echo boom; exit 3'], restart: 'always' },
        sick: { command: loop, healthcheck: { test: ['CMD-SHELL', 'exit 1'], interval: '1s', timeout: '2s', retries: 1 } },
        fine: { command: loop },
      },
    });
    await waitFor(async () => (await stack.ps()).find((c) => c.service === 'sick' && c.health === 'unhealthy'), { what: 'sick to be unhealthy', timeoutMs: 120_000 });
  });

  afterAll(async () => {
    const keys = await a.keys(`${prefix}:*`);
    if (keys.length) await a.del(...keys);
    a.disconnect();
    b.disconnect();
    await stack?.down();
  });

  it('lets exactly one compare-and-set win per revision', async () => {
    const key = `${prefix}:cas-test`;
    const ha = new VersionedHash<{ by: string }>(a, key);
    const hb = new VersionedHash<{ by: string }>(b, key);
    const fields = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const results = await Promise.all(fields.flatMap((f) => [ha.cas([{ field: f, expectedRev: 0, value: { by: 'a' } }]), hb.cas([{ field: f, expectedRev: 0, value: { by: 'b' } }])]));
    expect(results.filter((conflicts) => conflicts.length === 0)).toHaveLength(20);
    const all = await ha.all();
    expect([...all.values()].every((v) => v.rev === 1)).toBe(true);
    // Building on a stale revision fails; on the current one it succeeds.
    expect(await hb.cas([{ field: 'c0', expectedRev: 0, value: { by: 'late' } }])).toEqual(['c0']);
    expect(await hb.cas([{ field: 'c0', expectedRev: 1, value: { by: 'b2' } }])).toEqual([]);
    expect((await ha.get('c0'))?.rev).toBe(2);
  });

  it('hands a lock to one holder at a time and lets only the holder release it', async () => {
    const key = `${prefix}:lock-test`;
    const first = await acquireLock(a, key, { ttlMs: 5000 });
    expect(first).toBeDefined();
    expect(await acquireLock(b, key, { ttlMs: 5000, waitMs: 100 })).toBeUndefined();
    await first!.release();
    const second = await acquireLock(b, key, { ttlMs: 5000 });
    expect(second).toBeDefined();
    await first!.release(); // stale holder: no effect
    expect(await a.exists(key)).toBe(1);
    await second!.release();
  });

  it('opens one incident per container when two workers check the same stack at the same time', async () => {
    const config = buildConfig({ stack: { project: stack.project }, redis: { prefix }, channels: { alerts: 'C0ALERTS1' }, alerts: { groupWaitSeconds: 0 } }, { REDIS_URL });
    const log = createLogger({ level: 'silent' });
    const said: OutgoingNotice[] = [];
    const worker = (redis: Redis): CheckDeps => ({
      config, redis, log, docker: createDocker(config),
      notify: async (n) => void said.push(n),
      runbooks: async () => [],
      scheduleFollowup: async () => undefined,
    });
    // Six workers (own connections), each also reacting to a Docker event, all at once, repeatedly.
    const connections = Array.from({ length: 6 }, () => new Redis(REDIS_URL));
    const workers = connections.map(worker);
    try {
      for (let round = 0; round < 6; round++) {
        await Promise.all(workers.flatMap((w) => [runAlertCheck(w, { trigger: 'tick' }), runAlertCheck(w, { trigger: 'event', containers: [`${stack.project}_crashloop_1`, `${stack.project}_sick_1`] })]));
      }
    } finally {
      for (const c of connections) c.disconnect();
    }
    const rootsByContainer = new Map<string, number>();
    for (const n of said.filter((x) => x.action === 'root')) {
      const container = n.key.replace(/^incident:/, '').replace(/\.[a-z0-9]+$/, '');
      rootsByContainer.set(container, (rootsByContainer.get(container) ?? 0) + 1);
    }
    expect(Object.fromEntries(rootsByContainer)).toEqual({ [`${stack.project}_crashloop_1`]: 1, [`${stack.project}_sick_1`]: 1 });
    // Every thread reply belongs to a root that was sent before it.
    const seen = new Set<string>();
    for (const n of said) {
      if (n.action === 'root') seen.add(n.key);
      else expect(seen.has(n.key)).toBe(true);
    }
  });
});
