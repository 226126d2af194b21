// Tag pruning removes only what this deployment's manifests list, logs every untag, and prunes
// nothing when its manifest store cannot be read. Another deployment shares the Engine and the
// project name, with its own Redis prefix and manifest directory: its tags must survive.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureAppImages, removeRollbackArtifacts, type AppImages } from '../support/app-images.ts';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createLogger } from '../../src/shared/log.ts';
import type { JobContext } from '../../src/worker/define-job.ts';
import type { TagResult } from '../../src/shared/contracts/rollback.ts';
import tagJob from '../../jobs/tag.ts';
import { randomSuffix } from '../support/compose-stack.ts';
import { REDIS_URL } from '../support/harness.ts';
import { docker, healthy, startFixture, T, type Fixture } from './rollback-fixture.ts';

let images: AppImages;

beforeAll(async () => {
  images = await ensureAppImages();
}, T);

async function tagExists(ref: string): Promise<boolean> {
  return docker.getImage(ref).inspect().then(() => true, () => false);
}

describe('rollback: tag pruning', () => {
  let f: Fixture | undefined;
  const fx = (): Fixture => {
    if (!f) throw new Error('fixture did not start');
    return f;
  };
  // The other deployment: same Engine and project, its own Redis prefix and manifest directory.
  const otherPrefix = `cdbt-${randomSuffix()}`;
  let otherDir = '';
  const lines: string[] = [];

  /** This deployment's job context (keep 2), logging at info into `lines`. */
  const ours = (): JobContext => {
    const out = new PassThrough();
    out.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
    return { ...fx().ctx(), log: createLogger({ level: 'info', destination: out }) };
  };
  const theirs = (): JobContext => {
    const base = fx().ctx();
    const config = buildConfig({ stack: { project: fx().project, composeFiles: [fx().stack.file] }, redis: { prefix: otherPrefix }, rollback: { manifestDir: otherDir, keep: 10 } }, { REDIS_URL }, '(other deployment)');
    return { ...base, config };
  };
  const ref = (tag: string) => `cdb-rollback/${fx().project}/web:${tag}`;
  // Tags have one-second resolution: labels keep names apart within a second.
  let n = 0;
  const tag = async (ctx: JobContext): Promise<string> => ((await tagJob.run(ctx, { label: `t${++n}` })) as TagResult).tag;

  beforeAll(async () => {
    otherDir = await mkdtemp(join(tmpdir(), 'cdbt-other-manifests-'));
    f = await startFixture({ web: images.v1 }, (project) => ({ web: { image: `${project}/web:current`, restart: 'unless-stopped' } }), {}, { keep: 2 });
    await healthy(fx().stack, ['web']);
  }, T);

  afterAll(async () => {
    await f?.cleanup();
    await removeRollbackArtifacts({ project: 'cdbt-none', prefix: otherPrefix, manifestDir: otherDir, redisUrl: REDIS_URL });
    await rm(otherDir, { recursive: true, force: true });
  }, T);

  it('prunes only its own manifests’ tags, logging each; another deployment’s tags survive', async () => {
    const other = [await tag(theirs()), await tag(theirs()), await tag(theirs())];
    const mine = [await tag(ours()), await tag(ours()), await tag(ours()), await tag(ours())];
    // keep 2: our two oldest go, nothing else.
    for (const t of mine.slice(0, 2)) expect(await tagExists(ref(t)), t).toBe(false);
    for (const t of mine.slice(2)) expect(await tagExists(ref(t)), t).toBe(true);
    for (const t of other) expect(await tagExists(ref(t)), `other deployment's ${t}`).toBe(true);
    const removed = lines.map((l) => JSON.parse(l) as { msg: string; ref?: string }).filter((l) => l.msg === 'rollback tag removed').map((l) => l.ref);
    expect(removed.sort()).toEqual(mine.slice(0, 2).map(ref).sort());
  }, T);

  it('prunes nothing while a listed manifest cannot be read', async () => {
    const before = await tag(ours());
    const redis = fx().ctx().redis;
    // One manifest listed in the index but unreadable (Redis copy garbled, file gone).
    const victim = await tag(ours());
    await redis.set(`${fx().prefix}:rollback:${fx().project}:manifest:${victim}`, '{garbled');
    await rm(join(fx().manifestDir, fx().project, `${victim}.json`));
    lines.length = 0;
    const latest = await tag(ours());
    for (const t of [before, victim, latest]) expect(await tagExists(ref(t)), t).toBe(true);
    expect(lines.some((l) => l.includes('manifest store unreadable: no rollback tag pruned'))).toBe(true);
    expect(lines.some((l) => l.includes('"rollback tag removed"'))).toBe(false);
  }, T);

  it('prunes nothing it has no manifest for after the store is lost', async () => {
    const redis = fx().ctx().redis;
    const existing = (await docker.listImages({ filters: { reference: [`cdb-rollback/${fx().project}/*`] } })).flatMap((i) => i.RepoTags ?? []);
    // Lose the store: Redis keys and manifest files.
    const keys = await redis.keys(`${fx().prefix}:rollback:*`);
    if (keys.length) await redis.del(...keys);
    await rm(join(fx().manifestDir, fx().project), { recursive: true, force: true });
    for (let i = 0; i < 3; i++) await tag(ours());
    for (const r of existing) expect(await tagExists(r), r).toBe(true);
  }, T);
});
