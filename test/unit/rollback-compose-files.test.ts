import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { composeFacts, dependenciesOf, overlayPathFor, parseOverlay, renderOverlay } from '../../src/features/rollback/compose-files.ts';

describe('compose facts', () => {
  it('collects every kind of dependency', () => {
    expect(dependenciesOf({
      depends_on: { db: { condition: 'service_healthy' } },
      links: ['cache:redis'],
      network_mode: 'service:vpn',
      ipc: 'service:shm',
      volumes_from: ['data:ro', 'container:legacy'],
    }).sort()).toEqual(['cache', 'data', 'db', 'shm', 'vpn']);
    expect(dependenciesOf({ depends_on: ['a', 'b'] })).toEqual(['a', 'b']);
  });

  it('merges files in order and takes the version of the first', () => {
    const facts = composeFacts([
      { path: '/s/base.yml', doc: parse("version: '2.4'\nservices:\n  web:\n    image: x\n    depends_on: [db]\n  db:\n    image: y\n") },
      { path: '/s/prod.yml', doc: parse('services:\n  web:\n    links: [cache]\n') },
      { path: '/s/missing.yml', problem: { kind: 'missing', detail: 'not found' } },
    ]);
    expect(facts.version).toBe('2.4');
    expect([...(facts.dependsOn.get('web') ?? [])].sort()).toEqual(['cache', 'db']);
    expect(facts.problems).toEqual(['/s/missing.yml: not found']);
  });
});

describe('rollback overlay', () => {
  it('round-trips pins and metadata, and is a valid compose file with the stack’s version', () => {
    const text = renderOverlay({
      version: '2.4',
      pins: { web: 'cdb-rollback/p/web:rollback-20251224-153000', db: 'cdb-rollback/p/db:rollback-20251224-153000' },
      meta: { updatedAt: '2025-12-24T15:31:00.000Z', by: 'alice (U1)', requestId: 'req12345' },
    });
    expect(text).toContain('/cdb rollback --clear');
    const doc = parse(text) as { version: string; services: Record<string, { image: string }> };
    expect(doc.version).toBe('2.4');
    expect(Object.keys(doc.services)).toEqual(['db', 'web']);
    const back = parseOverlay(text);
    expect(back.pins.web).toBe('cdb-rollback/p/web:rollback-20251224-153000');
    expect(back.meta?.by).toBe('alice (U1)');
  });

  it('omits the version for compose-spec stacks', () => {
    expect(parse(renderOverlay({ pins: { a: 'x' } }))).toEqual({ services: { a: { image: 'x' } } });
  });

  it('lives next to the first compose file unless configured', () => {
    const stack = { project: 'p', docker: 'unix:///var/run/docker.sock', composeFiles: ['/srv/stack/base.yml', '/srv/other/x.yml'] };
    const rollback = { keep: 10, manifestDir: '/tmp', healthTimeoutSeconds: 60 };
    expect(overlayPathFor({ stack, rollback })).toBe('/srv/stack/rollback.yml');
    expect(overlayPathFor({ stack, rollback: { ...rollback, overlayPath: 'pins.yml' } })).toBe('/srv/stack/pins.yml');
    expect(overlayPathFor({ stack, rollback: { ...rollback, overlayPath: '/etc/pins.yml' } })).toBe('/etc/pins.yml');
    expect(overlayPathFor({ stack: { ...stack, composeFiles: [] }, rollback })).toBeUndefined();
  });
});
