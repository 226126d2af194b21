// Rollback's safety nets on a real Engine and docker-compose stack: the automatic undo after a
// failed health check, refusals before any change, and tag retention.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { stat } from 'node:fs/promises';
import { ensureAppImages, type AppImages } from '../support/app-images.ts';
import { waitFor } from '../support/compose-stack.ts';
import type { RollbackResult, TagResult, TagsResult } from '../../src/shared/contracts/rollback.ts';
import tagJob from '../../jobs/tag.ts';
import tagsJob from '../../jobs/tags.ts';
import planJob from '../../jobs/rollback-plan.ts';
import rollbackJob from '../../jobs/rollback.ts';
import { OpsError } from '../../src/shared/errors.ts';
import { docker, healthy, inspect, startFixture, T, version, type Fixture } from './rollback-fixture.ts';

let images: AppImages;

beforeAll(async () => {
  images = await ensureAppImages();
}, T);

describe('rollback: safety nets', () => {
  let f: Fixture | undefined;
  const fx = (): Fixture => {
    if (!f) throw new Error('fixture did not start');
    return f;
  };

  beforeAll(async () => {
    // web starts on the broken image, other on v2: the tag records that state.
    f = await startFixture({ web: images.broken, other: images.v2 }, (project) => ({
      web: { image: `${project}/web:current`, ports: ['127.0.0.1::8080'], restart: 'unless-stopped' },
      other: { image: `${project}/other:current`, ports: ['127.0.0.1::8080'], restart: 'unless-stopped' },
    }), {}, { healthTimeoutSeconds: 30, keep: 2 });
    await waitFor(async () => (await fx().stack.container('web')).health === 'unhealthy', { what: 'web (broken) to be unhealthy', timeoutMs: 120_000 });
  }, T);

  afterAll(async () => {
    await f?.cleanup();
  }, T);

  it('undoes a rollback to an image whose health check fails, and reports both attempts', async () => {
    const { stack } = fx();
    const brokenTag = (await tagJob.run(fx().ctx(), { label: 'broken' })) as TagResult;
    await fx().deploy({ web: images.v1, other: images.v1 });
    await healthy(stack, ['web', 'other']);
    const before = await stack.ps();

    const result = (await rollbackJob.run(fx().ctx(), { tag: brokenTag.tag })) as RollbackResult;
    expect(result.ok).toBe(false);
    expect(result.attempts.map((a) => [a.kind, a.ok])).toEqual([['rollback', false], ['revert', true]]);
    const failed = result.attempts[0]?.services.find((s) => s.service === 'web');
    expect(failed?.outcome).toBe('failed');
    expect(failed?.detail).toContain('unhealthy');
    expect(result.attempts[1]?.services.map((s) => [s.service, s.outcome]).sort()).toEqual([['other', 'restored'], ['web', 'restored']]);
    expect(result.overlay.written).toBe(false);

    // The very containers that ran before are back, healthy, on v1; nothing is left over.
    await healthy(stack, ['web', 'other']);
    const after = await stack.ps();
    expect(after.map((c) => c.id).sort()).toEqual(before.map((c) => c.id).sort());
    expect(after.map((c) => c.name).sort()).toEqual(before.map((c) => c.name).sort());
    expect(await version(stack, 'web')).toBe('v1');
    expect(await version(stack, 'other')).toBe('v1');
    expect((await inspect(stack, 'web')).HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
    await expect(stat(fx().overlay)).rejects.toThrow();
  }, T);

  it('refuses to roll back a service the tag does not have, changing nothing', async () => {
    const { stack } = fx();
    const tags = (await tagsJob.run(fx().ctx(), {})) as TagsResult;
    const before = (await stack.ps()).map((c) => c.id).sort();
    let err: unknown;
    try {
      await rollbackJob.run(fx().ctx(), { tag: tags.tags[0]?.tag as string, services: ['web', 'nope'] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OpsError);
    expect((err as OpsError).code).toBe('BAD_ARGUMENTS');
    expect((err as OpsError).userMessage).toMatch(/`nope` is not in tag `[a-z0-9-]+`, which has: `other`, `web`/);
    expect((await stack.ps()).map((c) => c.id).sort()).toEqual(before);
    expect(((await tagsJob.run(fx().ctx(), {})) as TagsResult).tags.map((t) => t.tag)).toEqual(tags.tags.map((t) => t.tag));
  }, T);

  it('rejects bad tag names before any Docker call', async () => {
    const trap = new Proxy({}, { get: (_t, p) => { throw new Error(`Docker was called (${String(p)})`); } }) as Docker;
    for (const tag of ['rollback-1', 'rollback-20251224-153000;docker rm -f x', '../../etc/passwd']) {
      await expect(rollbackJob.run({ ...fx().ctx(), docker: trap }, { tag })).rejects.toThrow(/not a tag name/);
      await expect(planJob.run({ ...fx().ctx(), docker: trap }, { tag })).rejects.toThrow(/not a tag name/);
    }
  }, T);

  it('keeps the newest tags and prunes the image tags of older ones, never images in use', async () => {
    const made: string[] = [];
    for (const label of ['r1', 'r2', 'r3']) made.push(((await tagJob.run(fx().ctx(), { label })) as TagResult).tag);
    const listed = ((await tagsJob.run(fx().ctx(), {})) as TagsResult).tags.map((t) => t.tag);
    expect(listed).toEqual([made[2], made[1]]);
    const project = fx().project;
    await expect(docker.getImage(`cdb-rollback/${project}/web:${made[0]}`).inspect()).rejects.toThrow();
    expect((await docker.getImage(`cdb-rollback/${project}/web:${made[2]}`).inspect()).Id).toBe((await inspect(fx().stack, 'web')).Image);
    // The broken image of the pruned tags is still on the Engine: it keeps its own tag.
    expect((await docker.getImage(images.broken).inspect()).Id).toMatch(/^sha256:/);
  }, T);
});
