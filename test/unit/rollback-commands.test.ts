import { describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { buildRegistry, resolveCommand } from '../../src/shared/registry/registry.ts';
import type { AnyCommand } from '../../src/shared/registry/define-command.ts';
import tag from '../../commands/tag.ts';
import tags from '../../commands/tags.ts';
import rollback, { planLines } from '../../commands/rollback.ts';
import rollbackJob from '../../jobs/rollback.ts';
import planJob from '../../jobs/rollback-plan.ts';
import type { RollbackPlan, RollbackResult, TagsResult } from '../../src/shared/contracts/rollback.ts';
import type { JobContext } from '../../src/worker/define-job.ts';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createLogger } from '../../src/shared/log.ts';
import { OpsError } from '../../src/shared/errors.ts';
import type { Redis } from 'ioredis';

const registry = buildRegistry([tag, tags, rollback] as AnyCommand[]);

function bad(text: string): string {
  try {
    resolveCommand(registry, text);
  } catch (err) {
    expect(err).toBeInstanceOf(OpsError);
    return (err as OpsError).userMessage;
  }
  throw new Error(`accepted: ${text}`);
}

describe('rollback commands: parsing', () => {
  it('parses the forms users type', () => {
    expect(resolveCommand(registry, 'rollback latest').args).toEqual({ tag: 'latest' });
    expect(resolveCommand(registry, 'rollback rollback-20251224-153000 web worker').args).toEqual({ tag: 'rollback-20251224-153000', services: ['web', 'worker'] });
    expect(resolveCommand(registry, 'rollback --clear').args).toEqual({ clear: true });
    expect(resolveCommand(registry, 'tag before-migration').args).toEqual({ label: 'before-migration' });
    expect(resolveCommand(registry, 'tags').args).toEqual({});
    expect(resolveCommand(registry, 'tags --limit=5').args).toEqual({ limit: 5 });
  });

  it('rejects bad tag names and labels at the bot, before anything is queued', () => {
    expect(bad('rollback rollback-2025')).toContain('rollback-20251224-153000');
    expect(bad('rollback "rollback-20251224-153000;reboot"')).toContain('tag');
    expect(bad('rollback ../../etc/passwd')).toContain('tag');
    expect(bad('rollback')).toContain('name a tag');
    expect(bad('rollback latest --clear')).toContain('--clear');
    expect(bad('tag Bad_Label')).toContain('label');
    expect(bad('rollback latest "web;ls"')).toContain('service');
  });

  it('needs approval for rollback (including --clear), not for tag and tags', () => {
    expect(rollback.approval).toBe(true);
    expect(tag.approval).toBeFalsy();
    expect(tags.role).toBe('viewer');
    expect(tag.role).toBe('operator');
  });
});

/** A Docker client that fails the test if anything touches it. */
const trapDocker = new Proxy({}, { get: (_t, prop) => { throw new Error(`Docker was called (${String(prop)})`); } }) as Docker;
/** And a Redis client that does the same. */
const trapRedis = new Proxy({}, { get: (_t, prop) => { throw new Error(`Redis was called (${String(prop)})`); } }) as Redis;

function ctx(): JobContext {
  const config = buildConfig({ stack: { project: 'cdbtunit', composeFiles: ['/nonexistent/docker-compose.yml'] }, redis: { url: 'redis://127.0.0.1:1' } }, {}, '(unit)');
  return { requestId: 'unit-request-1', actor: { userId: 'U0TEST', teamId: 'T0TEST' }, config, docker: trapDocker, redis: trapRedis, log: createLogger({ level: 'silent' }), signal: new AbortController().signal, progress: () => undefined, notify: async () => undefined };
}

describe('rollback jobs: bad tag names', () => {
  it('are refused before any Docker (or Redis) call, even when the queue sends them', async () => {
    for (const t of ['rollback-2025', 'rollback-20251224-153000/../x', 'x']) {
      await expect(rollbackJob.run(ctx(), { tag: t })).rejects.toThrow(/not a tag name/);
      await expect(planJob.run(ctx(), { tag: t })).rejects.toThrow(/not a tag name/);
      expect(rollbackJob.args.safeParse({ tag: t }).success).toBe(false);
    }
  });
});

const plan: RollbackPlan = {
  project: 'p',
  tag: 'rollback-20251224-153000',
  requested: 'latest',
  taggedAt: '2025-12-24T15:30:00.000Z',
  taggedBy: 'alice',
  items: [
    { service: 'db', action: 'unchanged', containers: ['p_db_1'], targetImage: `sha256:${'2'.repeat(64)}`, targetRef: 'r' },
    { service: 'web', action: 'recreate', containers: ['p_web_1'], currentImage: `sha256:${'9'.repeat(64)}`, targetImage: `sha256:${'1'.repeat(64)}`, targetRef: 'r' },
  ],
  order: [['web']],
  fingerprint: '0123456789abcdef',
};

describe('rollback command: approval hooks', () => {
  it('runs the read-only plan job for a rollback, not for --clear', () => {
    const plan = rollback.approvalPlan;
    expect(plan?.job).toBe('rollback-plan');
    expect(plan?.args?.({ tag: 'latest', services: ['web'] })).toEqual({ tag: 'latest', services: ['web'] });
    expect(plan?.args?.({ clear: true })).toBeUndefined();
    expect(planJob.args.safeParse(plan?.args?.({ tag: 'rollback-20251224-153000' })).success).toBe(true);
  });

  it('shows the plan and pins its fingerprint into the approved arguments', () => {
    const plan2 = rollback.approvalPlan;
    expect(plan2?.lines(plan, { tag: 'latest' })).toEqual(planLines(plan));
    const pin = plan2?.pin?.(plan, { tag: 'latest' });
    expect(pin).toEqual({ expectPlan: '0123456789abcdef' });
    expect(rollback.args.safeParse({ tag: 'latest', ...pin }).success).toBe(true);
    expect(plan2?.pin?.({ nonsense: true }, { tag: 'latest' })).toEqual({});
    expect(rollback.approvalSummary?.({ clear: true })[0]).toContain('rollback.yml');
  });
});

describe('rollback commands: rendering', () => {
  it('shows the plan for an approver: current → target, skipped services', () => {
    const lines = planLines(plan);
    expect(lines[0]).toContain('1 of 2 services change');
    expect(lines).toContain('web: 999999999999 → 111111111111');
    expect(lines).toContain('db: 222222222222 already runs, skipped');
  });

  it('reports timings against the 60 s target, and both attempts after an automatic undo', () => {
    const ok: RollbackResult = {
      mode: 'rollback', project: 'p', tag: plan.tag, ok: true, preRollbackTag: 'pre-rollback-20251224-160000', plan,
      attempts: [{ kind: 'rollback', ok: true, ms: 2100, services: [{ service: 'web', containers: ['p_web_1'], fromImage: '999999999999', toImage: '111111111111', outcome: 'healthy', ms: 2000 }] }],
      overlay: { path: '/srv/rollback.yml', written: true }, totalMs: 2500, targetMs: 60000,
    };
    expect(rollback.kind === 'job' && rollback.text(ok, { tag: 'latest' })).toContain('in 2.5 s (within the 60 s target)');
    const failed: RollbackResult = {
      ...ok, ok: false, overlay: { written: false, note: 'the rollback was undone, so nothing was pinned' },
      attempts: [
        { ...ok.attempts[0]!, ok: false, services: [{ ...ok.attempts[0]!.services[0]!, outcome: 'failed', detail: 'unhealthy' }] },
        { kind: 'revert', ok: true, ms: 1500, services: [{ ...ok.attempts[0]!.services[0]!, outcome: 'restored' }] },
      ],
    };
    const text = rollback.kind === 'job' ? rollback.text(failed, { tag: 'latest' }) : '';
    expect(text).toContain('undone automatically: restored pre-rollback-20251224-160000');
    expect(text).toContain('failed: unhealthy');
    expect(text).toContain('Restore (1.5 s, ok)');
    expect(rollback.kind === 'job' && rollback.exitCode?.(failed)).toBe(1);
    const slack = rollback.kind === 'job' ? rollback.slack(failed, { tag: 'latest' }) : { text: '' };
    expect(JSON.stringify(slack.blocks)).toContain('Restore');
  });

  it('after a crash, says where the worker stopped, what the recoverer did and what serves now', () => {
    const base: RollbackResult = {
      mode: 'rollback', project: 'p', tag: plan.tag, ok: false, preRollbackTag: 'pre-rollback-20251224-160000', plan, attempts: [],
      overlay: { written: false, note: 'the rollback was undone, so nothing was pinned' }, totalMs: 9000, targetMs: 60000,
      recovery: {
        interruptedAt: 'after `stop` of web (p_web_1)', outcome: 'reverted', by: 'host#42#abc', services: [{ service: 'web', outcome: 'restored' }],
        serving: [{ service: 'web', container: 'p_web_1', image: '999999999999', ref: 'p/app:current', state: 'healthy' }], removed: ['p_web_1_cdb-new-a1b2c3'],
      },
    };
    const text = rollback.kind === 'job' ? rollback.text(base, { tag: 'latest' }) : '';
    expect(text).toContain('The worker running this rollback stopped after `stop` of web (p_web_1); worker host#42#abc took over: the rollback to rollback-20251224-153000 was not complete, so it restored the previous containers.');
    expect(text).toContain('web: p_web_1 on 999999999999 (p/app:current), healthy');
    expect(text).toContain('Removed leftovers: p_web_1_cdb-new-a1b2c3');
    const finished: RollbackResult = { ...base, ok: true, overlay: { path: '/srv/rollback.yml', written: true }, recovery: { ...base.recovery!, outcome: 'finished', services: [{ service: 'web', outcome: 'rolled back' }] } };
    const slack = rollback.kind === 'job' ? rollback.slack(finished, { tag: 'latest' }) : { text: '' };
    expect(slack.text).toContain('had succeeded, so it finished it (pinned)');
    expect(JSON.stringify(slack.blocks)).toContain('Serving now:');
    expect(rollback.kind === 'job' && rollback.exitCode?.(base)).toBe(1);
  });

  it('lists tags with what differs from the running stack', () => {
    const result: TagsResult = {
      project: 'p', keep: 10, pins: { web: 'rollback-20251224-153000' }, overlayPath: '/srv/rollback.yml',
      tags: [{ tag: 'rollback-20251224-153000', kind: 'rollback', createdAt: '2025-12-24T15:30:00.000Z', createdBy: 'alice', services: 2, differs: ['web'], missing: [], pinned: true }],
    };
    const text = tags.kind === 'job' ? tags.text(result, {}) : '';
    expect(text).toContain('differs: web');
    expect(text).toContain('(pinned)');
  });
});
