import { describe, expect, it } from 'vitest';
import type { RollbackManifest } from '../../src/shared/contracts/rollback.ts';
import { computePlan, runtimeDependencies } from '../../src/features/rollback/plan.ts';
import type { ServiceContainer, StackSnapshot } from '../../src/features/rollback/snapshot.ts';
import { OpsError } from '../../src/shared/errors.ts';

const img = (c: string) => `sha256:${c.repeat(64)}`;
const cid = (c: string) => c.repeat(64);

function manifest(services: Record<string, string>): RollbackManifest {
  return {
    version: 1,
    tag: 'rollback-20251224-153000',
    kind: 'rollback',
    project: 'p',
    createdAt: '2025-12-24T15:30:00.000Z',
    createdBy: { userId: 'U1', name: 'alice' },
    requestId: 'req12345',
    services: Object.fromEntries(Object.entries(services).map(([s, i]) => [s, { imageId: img(i), ref: `cdb-rollback/p/${s}:rollback-20251224-153000`, originalRef: `app/${s}:1`, containers: 1 }])),
  };
}

function container(service: string, id: string, image: string, extra: Partial<ServiceContainer> = {}): ServiceContainer {
  return { id: cid(id), name: `p_${service}_1`, service, number: 1, imageId: img(image), imageRef: `app/${service}:2`, running: true, networkMode: 'p_default', labels: {}, ...extra };
}

function snapshot(cs: ServiceContainer[]): StackSnapshot {
  const services = new Map<string, ServiceContainer[]>();
  for (const c of cs) services.set(c.service, [...(services.get(c.service) ?? []), c]);
  return { project: 'p', services, parked: [] };
}

const base = { requested: 'rollback-20251224-153000', composeDeps: new Map<string, Set<string>>(), imageMissing: new Set<string>() };

describe('computePlan', () => {
  const m = manifest({ web: '1', db: '2', cache: '3', gone: '4' });
  const snap = snapshot([container('web', 'a', '9'), container('db', 'b', '2'), container('cache', 'c', '8'), container('extra', 'd', '7')]);

  it('recreates what differs, skips what already runs the tag, and notes services without containers', () => {
    const { plan, services } = computePlan({ ...base, manifest: m, snapshot: snap });
    const by = Object.fromEntries(plan.items.map((i) => [i.service, i.action]));
    expect(by).toEqual({ cache: 'recreate', db: 'unchanged', gone: 'missing', web: 'recreate' });
    expect(services.find((s) => s.item.service === 'web')?.containerIds).toEqual([cid('a')]);
    expect(plan.items.find((i) => i.service === 'web')).toMatchObject({ currentImage: img('9'), targetImage: img('1'), targetRef: 'cdb-rollback/p/web:rollback-20251224-153000' });
    expect(plan.order).toEqual([['cache', 'web']]);
    expect(plan.fingerprint).toMatch(/^[a-f0-9]{16}$/);
  });

  it('limits the plan to the services asked for', () => {
    const { plan } = computePlan({ ...base, manifest: m, snapshot: snap, services: ['web'] });
    expect(plan.items.map((i) => i.service)).toEqual(['web']);
  });

  it('refuses a service the tag does not have, naming the ones it has', () => {
    let err: unknown;
    try {
      computePlan({ ...base, manifest: m, snapshot: snap, services: ['web', 'extra'] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OpsError);
    expect((err as OpsError).code).toBe('BAD_ARGUMENTS');
    expect((err as OpsError).userMessage).toContain('`extra` is not in tag `rollback-20251224-153000`');
    expect((err as OpsError).userMessage).toContain('`web`');
  });

  it('refuses a named service that has no container, and a tag whose image is gone', () => {
    expect(() => computePlan({ ...base, manifest: m, snapshot: snap, services: ['gone'] })).toThrow(/no container/);
    expect(() => computePlan({ ...base, manifest: m, snapshot: snap, imageMissing: new Set(['web']) })).toThrow(/no longer on the Engine/);
  });

  it('orders by compose and label dependencies', () => {
    const s = snapshot([container('web', 'a', '9', { labels: { 'com.docker.compose.depends_on': 'cache:service_healthy:false' } }), container('cache', 'c', '8'), container('db', 'b', '2')]);
    expect(computePlan({ ...base, manifest: m, snapshot: s }).plan.order).toEqual([['cache'], ['web']]);
    expect(runtimeDependencies(s).get('web')).toEqual(new Set(['cache']));
  });

  it('recreates a container that shares a replaced container’s network namespace', () => {
    const s = snapshot([container('web', 'a', '9'), container('sidecar', 'e', '6', { networkMode: `container:${cid('a')}` })]);
    const { plan } = computePlan({ ...base, manifest: manifest({ web: '1' }), snapshot: s });
    const side = plan.items.find((i) => i.service === 'sidecar');
    expect(side).toMatchObject({ action: 'recreate', targetImage: img('6') });
    expect(side?.reason).toContain('network namespace of web');
    expect(plan.order).toEqual([['web'], ['sidecar']]);
  });

  it('changes its fingerprint when the stack changes', () => {
    const a = computePlan({ ...base, manifest: m, snapshot: snap }).plan.fingerprint;
    const b = computePlan({ ...base, manifest: m, snapshot: snapshot([container('web', 'f', '9'), container('db', 'b', '2'), container('cache', 'c', '8')]) }).plan.fingerprint;
    expect(a).toBe(computePlan({ ...base, manifest: m, snapshot: snap }).plan.fingerprint);
    expect(a).not.toBe(b);
  });
});
