// Rollback on a real Engine, with a real docker-compose stack and locally built app images
// (v1, v2 and a variant whose healthcheck fails; see test/support/app-images.ts).
// The job processors run in-process, as the worker runs them after approval.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, stat } from 'node:fs/promises';
import { parse } from 'yaml';
import { ensureAppImages, type AppImages } from '../support/app-images.ts';
import { runCommand } from '../support/images.ts';
import { waitFor } from '../support/compose-stack.ts';
import type { RollbackPlan, RollbackResult, TagResult, TagsResult, ClearResult } from '../../src/shared/contracts/rollback.ts';
import tagJob from '../../jobs/tag.ts';
import tagsJob from '../../jobs/tags.ts';
import planJob from '../../jobs/rollback-plan.ts';
import rollbackJob from '../../jobs/rollback.ts';
import { aliases, composeLabels, docker, envOf, healthy, inspect, startFixture, T, version, type Fixture } from './rollback-fixture.ts';

let images: AppImages;

beforeAll(async () => {
  images = await ensureAppImages();
}, T);

describe('rollback: tag → deploy v2 → rollback → v1', () => {
  let f: Fixture | undefined;
  const fx = (): Fixture => {
    if (!f) throw new Error('fixture did not start');
    return f;
  };

  beforeAll(async () => {
    f = await startFixture({ app: images.v1 }, (project) => ({
      web: {
        image: `${project}/app:current`,
        ports: ['127.0.0.1::8080'],
        environment: { GREETING: 'hello', APP_MODE: 'prod' },
        labels: { 'com.example.team': 'ops' },
        volumes: ['data:/data', '/scratch'],
        networks: { default: { aliases: ['frontend'] }, back: { aliases: ['web.back'] } },
        restart: 'unless-stopped',
        user: '0:0',
        security_opt: ['no-new-privileges:true'],
        cap_drop: ['NET_RAW'],
        mem_limit: '64m',
        depends_on: ['api'],
      },
      api: { image: `${project}/app:current`, ports: ['127.0.0.1::8080'], networks: ['back'], restart: 'always' },
      side: { command: ['sh', '-c', "trap 'exit 0' TERM; sleep 3600 & wait"], restart: 'unless-stopped' },
    }), { volumes: { data: {} }, networks: { back: {} } });
    await healthy(fx().stack, ['web', 'api']);
  }, T);

  afterAll(async () => {
    await f?.cleanup();
  }, T);

  it('rolls back, keeps configuration and data, sticks across docker-compose up -d, and can be undone', async () => {
    const { stack, project } = fx();
    const web0 = await inspect(stack, 'web');
    await runCommand('docker', ['exec', web0.Id, 'sh', '-c', 'echo keep-me > /data/marker && echo anon > /scratch/marker']);
    const dataVolume = web0.Mounts.find((m) => m.Destination === '/data')?.Name;
    const scratchVolume = web0.Mounts.find((m) => m.Destination === '/scratch')?.Name;
    expect(dataVolume).toBe(`${project}_data`);

    const tagged = (await tagJob.run(fx().ctx(), { label: 'good' })) as TagResult;
    expect(tagged.tag).toMatch(/^rollback-\d{8}-\d{6}-good$/);
    expect(tagged.services.map((s) => s.service)).toEqual(['api', 'side', 'web']);
    const manifest = JSON.parse(await readFile(tagged.manifestFile, 'utf8')) as { services: Record<string, { imageId: string; originalRef: string }>; createdBy: { userId: string } };
    expect(manifest.services.web?.imageId).toBe(web0.Image);
    expect(manifest.services.web?.originalRef).toBe(`${project}/app:current`);
    expect(manifest.createdBy.userId).toBe('U0TESTER');
    const tagImage = await docker.getImage(`cdb-rollback/${project}/web:${tagged.tag}`).inspect();
    expect(tagImage.Id).toBe(web0.Image);

    await fx().deploy({ app: images.v2 });
    await waitFor(async () => (await version(stack, 'web')) === 'v2' && (await version(stack, 'api')) === 'v2', { what: 'v2 to be deployed', timeoutMs: 120_000 });
    await healthy(stack, ['web', 'api']);
    const web2 = await inspect(stack, 'web');
    const side2 = await inspect(stack, 'side');

    const plan = (await planJob.run(fx().ctx(), { tag: 'latest' })) as RollbackPlan;
    expect(plan.tag).toBe(tagged.tag);
    expect(Object.fromEntries(plan.items.map((i) => [i.service, i.action]))).toEqual({ api: 'recreate', side: 'unchanged', web: 'recreate' });
    expect(plan.order).toEqual([['api'], ['web']]);

    const result = (await rollbackJob.run(fx().ctx(), { tag: 'latest', expectPlan: plan.fingerprint })) as RollbackResult;
    expect(result.ok).toBe(true);
    expect(result.attempts).toHaveLength(1);
    expect(result.attempts[0]?.services.map((s) => [s.service, s.outcome])).toEqual([['api', 'healthy'], ['web', 'healthy']]);
    expect(result.preRollbackTag).toMatch(/^pre-rollback-\d{8}-\d{6}$/);
    expect(result.overlay.written).toBe(true);

    // v1 runs, healthy, with the configuration compose gave it and v1's own image defaults.
    expect(await version(stack, 'web')).toBe('v1');
    expect(await version(stack, 'api')).toBe('v1');
    const web1 = await inspect(stack, 'web');
    expect(web1.State.Health?.Status).toBe('healthy');
    expect(web1.Image).toBe(web0.Image);
    expect(web1.Name).toBe(web2.Name);
    expect(composeLabels(web1)).toEqual(composeLabels(web2));
    expect(web1.Config.Labels['com.example.team']).toBe('ops');
    expect(web1.Config.Labels['cdb.test.app']).toBe('v1');
    expect(envOf(web1, 'APP_VERSION')).toBe('v1');
    expect(envOf(web1, 'GREETING')).toBe('hello');
    expect(web1.HostConfig.RestartPolicy).toEqual(web2.HostConfig.RestartPolicy);
    expect(web1.HostConfig.SecurityOpt).toEqual(['no-new-privileges:true']);
    expect(web1.HostConfig.CapDrop).toEqual(['NET_RAW']);
    expect(web1.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(web1.Config.User).toBe('0:0');
    expect(aliases(web1, `${project}_default`)).toContain('frontend');
    expect(aliases(web1, `${project}_back`)).toContain('web.back');
    expect(aliases(web1, `${project}_default`)).not.toContain(web2.Id.slice(0, 12));
    // Volumes untouched: the same named and anonymous volumes, with their data.
    expect(web1.Mounts.find((m) => m.Destination === '/data')?.Name).toBe(dataVolume);
    expect(web1.Mounts.find((m) => m.Destination === '/scratch')?.Name).toBe(scratchVolume);
    const { stdout: marker } = await runCommand('docker', ['exec', web1.Id, 'cat', '/data/marker', '/scratch/marker']);
    expect(marker.split('\n').filter(Boolean)).toEqual(['keep-me', 'anon']);
    // web reaches api over the back network by its service name.
    await runCommand('docker', ['exec', web1.Id, 'wget', '-q', '-O', '/dev/null', 'http://api:8080/version']);
    expect((await inspect(stack, 'side')).Id).toBe(side2.Id);
    // Nothing left over: no parked or half-created containers.
    expect((await stack.ps()).map((c) => c.name).sort()).toEqual([`${project}_api_1`, `${project}_side_1`, `${project}_web_1`]);
    const ps = await stack.compose(['ps']);
    expect(ps).toMatch(new RegExp(`${project}_web_1 .*Up \\(healthy\\)`));

    // The pin: an overlay next to the compose file, in the stack's compose version.
    const overlay = parse(await readFile(fx().overlay, 'utf8')) as { version: string; services: Record<string, { image: string }> };
    expect(overlay.version).toBe('2.4');
    expect(overlay.services.web?.image).toBe(`cdb-rollback/${project}/web:${tagged.tag}`);
    // Only what the rollback moved: side runs the tag's image already, so pinning it would only get it recreated.
    expect(Object.keys(overlay.services).sort()).toEqual(['api', 'web']);

    // An operator's `docker-compose up -d` with the stack's own file leaves the rollback in place…
    await stack.compose(['up', '-d']);
    expect((await inspect(stack, 'web')).Id).toBe(web1.Id);
    expect(await version(stack, 'web')).toBe('v1');
    // …and so does one with the overlay.
    await runCommand('docker-compose', ['-p', project, '-f', stack.file, '-f', fx().overlay, 'up', '-d'], { cwd: stack.dir });
    await healthy(stack, ['web', 'api']);
    expect(await version(stack, 'web')).toBe('v1');
    expect(await version(stack, 'api')).toBe('v1');

    const listed = (await tagsJob.run(fx().ctx(), {})) as TagsResult;
    expect(listed.tags.map((t) => t.tag)).toEqual([result.preRollbackTag, tagged.tag]);
    expect(listed.tags[0]?.differs).toEqual(['api', 'web']);
    expect(listed.tags[1]?.differs).toEqual([]);
    expect(listed.tags[1]?.pinned).toBe(true);
    expect(listed.pins.web).toBe(tagged.tag);

    // The rollback itself can be undone: roll back to the pre-rollback tag.
    const undo = (await rollbackJob.run(fx().ctx(), { tag: result.preRollbackTag as string })) as RollbackResult;
    expect(undo.ok).toBe(true);
    expect(await version(stack, 'web')).toBe('v2');
    expect(envOf(await inspect(stack, 'web'), 'APP_VERSION')).toBe('v2');

    const cleared = (await rollbackJob.run(fx().ctx(), { clear: true })) as ClearResult;
    expect(cleared.removed).toBe(true);
    expect(cleared.pins.web).toBe(`cdb-rollback/${project}/web:${result.preRollbackTag}`);
    await expect(stat(fx().overlay)).rejects.toThrow();
    expect((await docker.getVolume(`${project}_data`).inspect()).Name).toBe(`${project}_data`);
  }, T);
});

