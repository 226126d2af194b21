import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/shared/config/load.ts';
import { approvalDigest } from '../../src/shared/approval/digest.ts';
import { tokenize } from '../../src/shared/registry/tokenize.ts';
import { configForTarget, jobsQueueName, listTargets, resolveTarget } from '../../src/shared/targets.ts';
import { jobsQueue, keyPrefix } from '../../src/shared/queue/names.ts';
import { servedTargets } from '../../src/main/start-worker.ts';

const two = (extra: Record<string, unknown> = {}) => buildConfig({
  targets: [{ name: 'web', project: 'naaccord', composeFiles: ['/srv/web/compose.yml'] }, { name: 'services', project: 'naaccord', docker: 'ssh://deploy@10.150.96.37' }],
  ...extra,
}, {}, '(test)');

describe('targets', () => {
  it('today’s single-stack config is one implicit target on the `jobs` queue', () => {
    const c = buildConfig({ stack: { project: 'cdb' } }, {}, '(test)');
    expect(listTargets(c)).toMatchObject([{ name: 'default', queue: 'jobs', explicit: false, project: 'cdb' }]);
    expect(resolveTarget(c, undefined, 'status').name).toBe('default');
    expect(configForTarget(c, 'default')).toBe(c);
    expect(keyPrefix(c)).toBe('cdb');
    expect(jobsQueue(c)).toBe('jobs');
    expect(servedTargets(c, undefined)).toEqual(['default']);
  });

  it('targets without stack: the first stands in for stack; each gets its own queue, key prefix and stack view', () => {
    const c = two();
    expect(c.stack.project).toBe('naaccord');
    expect(listTargets(c).map((t) => t.queue)).toEqual(['jobs-web', 'jobs-services']);
    const svc = configForTarget(c, 'services');
    expect(svc.stack.docker).toBe('ssh://deploy@10.150.96.37');
    expect(svc.target).toEqual({ name: 'services', queue: 'jobs-services' });
    expect(keyPrefix(svc)).toBe('cdb:t:services');
    expect(jobsQueue(svc)).toBe('jobs-services');
    expect(jobsQueueName('web')).toBe('jobs-web');
  });

  it('refuses unknown and ambiguous targets with the list; a default target settles ambiguity', () => {
    expect(() => resolveTarget(two(), 'db', 'restart')).toThrow(/no target `db`\. Targets: `web`, `services`/);
    expect(() => resolveTarget(two(), undefined, 'restart')).toThrow(/Which target\? This bot manages 2: `web`, `services`/);
    expect(resolveTarget(two({ defaultTarget: 'services' }), undefined, 'restart').name).toBe('services');
    expect(() => two({ defaultTarget: 'nope' })).toThrow(/defaultTarget must name one of targets/);
    expect(() => buildConfig({ targets: [{ name: 'web', project: 'a' }, { name: 'web', project: 'b' }] }, {}, '(t)')).toThrow(/unique/);
  });

  it('each target sees only its own secrets; unbound ones belong to the default target; a secret’s target must exist', () => {
    const secrets = [
      { name: 'web_key', kind: 'api-key', file: '/srv/web/secrets/web_key', target: 'web' },
      { name: 'db_password', kind: 'postgres', file: '/srv/svc/secrets/db_password', target: 'services' },
      { name: 'django_secret', kind: 'app-secret', file: '/srv/web/secrets/django_secret' },
    ];
    const names = (c: ReturnType<typeof two>, t: string) => configForTarget(c, t).rotation.secrets.map((s) => s.name);
    expect(names(two({ rotation: { secrets } }), 'web')).toEqual(['web_key', 'django_secret']);
    expect(names(two({ rotation: { secrets } }), 'services')).toEqual(['db_password']);
    expect(names(two({ rotation: { secrets }, defaultTarget: 'services' }), 'services')).toEqual(['db_password', 'django_secret']);
    expect(() => two({ rotation: { secrets: [{ ...secrets[0], target: 'db' }] } })).toThrow(/a secret’s target must name one of targets/);
    // A single stack: unchanged, every secret.
    const single = buildConfig({ stack: { project: 'cdb' }, rotation: { secrets: secrets.slice(2) } }, {}, '(test)');
    expect(configForTarget(single, 'default').rotation.secrets.map((s) => s.name)).toEqual(['django_secret']);
    expect(() => buildConfig({ stack: { project: 'cdb' }, rotation: { secrets: secrets.slice(0, 1) } }, {}, '(test)')).toThrow(/a secret’s target must name one of targets/);
  });

  it('a worker must be told its targets when there are several', () => {
    expect(() => servedTargets(two(), undefined)).toThrow(/CDB_TARGET=<name>/);
    expect(servedTargets(two(), 'web, services')).toEqual(['web', 'services']);
    expect(() => servedTargets(two(), 'db')).toThrow(/not in the configuration/);
  });

  it('--on takes the next word (or =value) on every command', () => {
    expect(tokenize('restart api --on web')).toEqual({ words: ['restart', 'api'], flags: { on: 'web' } });
    expect(tokenize('rollback --on=web latest api')).toEqual({ words: ['rollback', 'latest', 'api'], flags: { on: 'web' } });
    expect(() => tokenize('status --on')).toThrow(/--on needs a value/);
    expect(() => tokenize('status --on --json')).toThrow(/--on needs a value/);
  });

  it('the approval digest binds the target, and is unchanged for a single stack', () => {
    const base = { id: 'a'.repeat(22), command: 'rollback', job: 'rollback', args: { tag: 'latest' }, requester: { userId: 'U1', teamId: 'T1' }, channel: 'C1' };
    expect(approvalDigest({ ...base, target: 'web' })).not.toBe(approvalDigest({ ...base, target: 'services' }));
    expect(approvalDigest({ ...base, target: undefined })).toBe(approvalDigest(base));
  });
});
