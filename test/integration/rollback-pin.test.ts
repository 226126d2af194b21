// The pin overlay after a one-service rollback, checked with the real docker-compose (Debian's
// 1.29.2): the runbook's `docker-compose -f <files> -f rollback.yml up -d` must recreate nothing
// but the rolled-back service and create nothing, on a stack with unchanged services and an orphan
// (a container with the project's labels whose service no compose file declares any more).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { ensureAppImages, type AppImages } from '../support/app-images.ts';
import { runCommand } from '../support/images.ts';
import { waitFor } from '../support/compose-stack.ts';
import type { RollbackResult, TagResult } from '../../src/shared/contracts/rollback.ts';
import tagJob from '../../jobs/tag.ts';
import rollbackJob from '../../jobs/rollback.ts';
import { docker, healthy, startFixture, T, version, type Fixture } from './rollback-fixture.ts';

let images: AppImages;

beforeAll(async () => {
  images = await ensureAppImages();
}, T);

/** name → container ID of every container carrying the project's label. */
async function containers(project: string): Promise<Record<string, string>> {
  const list = await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });
  return Object.fromEntries(list.map((c) => [(c.Names[0] ?? '').replace(/^\//, ''), c.Id]));
}

describe('rollback: the pin names only what the rollback moved', () => {
  let f: Fixture | undefined;
  const fx = (): Fixture => {
    if (!f) throw new Error('fixture did not start');
    return f;
  };

  beforeAll(async () => {
    const app = (project: string, name: string, extra: Record<string, unknown> = {}) => ({ image: `${project}/${name}:current`, ports: ['127.0.0.1::8080'], restart: 'unless-stopped' as const, ...extra });
    f = await startFixture({ core: images.v1, db: images.v1, cache: images.v1, ghost: images.v1 }, (project) => ({
      db: app(project, 'db'),
      cache: app(project, 'cache'),
      core: app(project, 'core', { depends_on: ['db', 'cache'] }),
      ghost: app(project, 'ghost'),
    }));
    await healthy(fx().stack, ['core', 'db', 'cache', 'ghost']);
  }, T);

  afterAll(async () => {
    await f?.cleanup();
  }, T);

  it('pins the one declared service it moved; the runbook’s compose command then recreates nothing else and creates nothing', async () => {
    const { stack, project } = fx();
    const tagged = (await tagJob.run(fx().ctx(), { label: 'good' })) as TagResult;
    expect(tagged.services.map((s) => s.service)).toEqual(['cache', 'core', 'db', 'ghost']);
    // Deploy v2 of core and ghost; then ghost leaves the compose file: an orphan still running v2.
    await fx().deploy({ core: images.v2, ghost: images.v2 });
    await waitFor(async () => (await version(stack, 'core')) === 'v2' && (await version(stack, 'ghost')) === 'v2', { what: 'v2 deployed', timeoutMs: 120_000 });
    const file = parse(await readFile(stack.file, 'utf8')) as { services: Record<string, unknown> };
    delete file.services.ghost;
    await writeFile(stack.file, stringify(file, { version: '1.1' }));

    const result = (await rollbackJob.run(fx().ctx(), { tag: tagged.tag })) as RollbackResult;
    expect(result.ok).toBe(true);
    expect(result.attempts[0]?.services.map((s) => s.service).sort()).toEqual(['core', 'ghost']);
    expect(await version(stack, 'core')).toBe('v1');
    expect(await version(stack, 'ghost')).toBe('v1');
    expect(result.overlay.written).toBe(true);
    expect(result.overlay.note).toMatch(/ghost is not declared by any compose file \(orphan\): rolled back but not pinned/);

    // Only core: the unchanged services and the orphan are not in the pin.
    const overlay = parse(await readFile(fx().overlay, 'utf8')) as { version: string; services: Record<string, { image: string }> };
    expect(overlay.services).toEqual({ core: { image: `cdb-rollback/${project}/core:${tagged.tag}` } });
    // The orphan's tag is kept (a container uses it), just not pinned.
    expect((await docker.getImage(`cdb-rollback/${project}/ghost:${tagged.tag}`).inspect()).Id).toMatch(/^sha256:/);

    const before = await containers(project);
    expect(Object.keys(before).sort()).toEqual([`${project}_cache_1`, `${project}_core_1`, `${project}_db_1`, `${project}_ghost_1`]);
    // The runbook's command, with the real docker-compose.
    await runCommand('docker-compose', ['-p', project, '-f', stack.file, '-f', fx().overlay, 'up', '-d'], { cwd: stack.dir });
    await healthy(stack, ['core', 'db', 'cache']);
    const after = await containers(project);
    // Nothing new, nothing else recreated (core may be: its image reference is now the pin).
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    for (const name of Object.keys(before).filter((n) => !n.includes('_core_'))) expect(after[name], name).toBe(before[name]);
    expect(await version(stack, 'core')).toBe('v1');
    expect(await version(stack, 'ghost')).toBe('v1');
  }, T);
});
