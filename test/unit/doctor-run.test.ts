import { describe, expect, it } from 'vitest';
import doctorCommand from '../../commands/doctor.ts';
import { buildConfig } from '../../src/shared/config/load.ts';
import { doctorExitCode, expandSelection, type DoctorResult, type Finding } from '../../src/shared/contracts/doctor.ts';
import { OpsError } from '../../src/shared/errors.ts';
import { ALL_CHECKS } from '../../src/features/doctor/checks/index.ts';
import type { Collected } from '../../src/features/doctor/collect.ts';
import { diffKeys, digestOf, findingKeys } from '../../src/features/doctor/digest.ts';
import { describePlan } from '../../src/features/doctor/fix.ts';
import { assertMayFix } from '../../src/features/doctor/may-fix.ts';
import { doctorSlack, doctorText, detailMessages, summaryBlocks, summaryText } from '../../src/shared/render/doctor.ts';
import { runChecks } from '../../src/features/doctor/run-checks.ts';
import { isScheduledRun, scheduledEnvelope } from '../../src/features/doctor/schedule.ts';
import type { Check, Snapshot } from '../../src/features/doctor/types.ts';
import { envelopeSchema } from '../../src/shared/contracts/envelope.ts';
import { buildRegistry, resolveCommand } from '../../src/shared/registry/registry.ts';
import type { AnyCommand } from '../../src/shared/registry/define-command.ts';
import { compose, container, snapshot } from '../support/doctor-fixtures.ts';

const collected = (snap: Snapshot, extra: Partial<Collected> = {}): Collected => ({ snapshot: snap, notes: [], missing: new Map(), ...extra });
const byId = (ids: string[]) => ALL_CHECKS.filter((c) => ids.includes(c.id));

function result(findings: Finding[], extra: Partial<DoctorResult> = {}): DoctorResult {
  return { project: 'cdb', checkedAt: '2025-12-24T00:00:00.000Z', durationMs: 420, checks: ['privileged', 'run-as-root', 'log-limits'], counts: { containers: 2, volumes: 0, networks: 1, files: 0 }, findings, ...extra };
}

describe('running checks', () => {
  it('gives every check a line: problems worst first, else a pass line', () => {
    const snap = snapshot({ containers: [container({ service: 'wg', host: { privileged: true } }), container({ service: 'app', user: 'root' })] });
    const { findings } = runChecks(byId(['run-as-root', 'privileged', 'memory-limit']), collected(snap));
    expect(findings.map((f) => `${f.status}/${f.severity} ${f.check} ${f.name}`)).toEqual([
      'fail/critical privileged cdb_wg_1',
      'fail/high run-as-root cdb_app_1',
      'pass/info memory-limit ',
    ]);
    expect(findings[0]).toMatchObject({ target: 'container', runbook: 'privileges', service: 'wg', evidence: 'HostConfig.Privileged=true' });
  });

  it('applies waivers and doctor.allowDockerSocket, naming what was waived on the pass line', () => {
    const sock = [{ type: 'bind', source: '/var/run/docker.sock', destination: '/var/run/docker.sock', rw: true }];
    const snap = snapshot({
      doctorConfig: { allowDockerSocket: ['worker'], waivers: { privileged: ['wg'] } },
      containers: [container({ service: 'worker', mounts: sock }), container({ service: 'wg', host: { privileged: true } })],
    });
    const { findings } = runChecks(byId(['docker-socket', 'privileged']), collected(snap));
    expect(findings.map((f) => `${f.status} ${f.check}: ${f.detail}`)).toEqual([
      'pass privileged: 2 containers checked: none privileged; waived: wg',
      'pass docker-socket: 2 containers checked: none mounts the Docker socket; waived: worker',
    ]);
  });

  it('turns a crashing check into a fail line, and a missing listing into "not checked"; the rest still run', () => {
    const broken: Check = { id: 'healthcheck', run: () => { throw new Error('kaboom'); } };
    const needy: Check = { id: 'orphan-volumes', needs: ['volumes'], run: () => [] };
    const snap = snapshot({ containers: [container()] });
    const { findings } = runChecks([broken, needy, ...byId(['privileged'])], collected(snap, { missing: new Map([['volumes', 'could not list volumes: boom']]) }));
    expect(findings.map((f) => `${f.status} ${f.check}: ${f.detail}`)).toEqual([
      'fail healthcheck: the check itself failed: kaboom',
      'warn orphan-volumes: not checked: could not list volumes: boom',
      'pass privileged: 1 container checked: none privileged',
    ]);
  });

  it('plans fixes: stopped orphans are safe, running orphans and volumes need approval', () => {
    const snap = snapshot({
      compose: compose({ web: {} }),
      containers: [container({ service: 'web' }), container({ service: 'old', state: { status: 'exited', running: false } }), container({ service: 'stray' })],
      volumes: [{ name: 'cdb_junk', labels: { 'com.docker.compose.volume': 'junk' } }],
    });
    const run = runChecks(byId(['orphan-containers', 'orphan-volumes']), collected(snap));
    expect(run.fixes.map((f) => [f.target, f.safe, f.command])).toEqual([
      ['cdb_old_1', true, 'docker rm cdb_old_1'],
      ['cdb_stray_1', false, 'docker rm -f cdb_stray_1'],
      ['cdb_junk', false, 'docker volume rm cdb_junk'],
    ]);
    expect(run.findings.filter((f) => f.fixable).map((f) => f.fixable)).toEqual(['approval', 'safe', 'approval']);
    expect(describePlan(run.fixes)).toBe('will remove stopped orphan container cdb_old_1 (docker rm cdb_old_1); needs approval, not done: remove running orphan container cdb_stray_1 (docker rm -f cdb_stray_1); needs approval, not done: remove orphan volume (deletes its data) cdb_junk (docker volume rm cdb_junk)');
    expect(describePlan([])).toBe('Nothing for --fix to do.');
  });
});

describe('the doctor command', () => {
  const registry = buildRegistry([doctorCommand as unknown as AnyCommand]);

  it('takes check ids and families, and refuses unknown ones with the known list', () => {
    expect(resolveCommand(registry, 'doctor').args).toEqual({});
    expect(resolveCommand(registry, 'doctor secret-files ports --fix').args).toEqual({ checks: ['secret-files', 'ports'], fix: true });
    expect(expandSelection(['secret-files', 'ports'])).toEqual(['port-exposure', 'port-conflicts', 'secret-files']);
    let err: unknown;
    try {
      resolveCommand(registry, 'doctor secret-files nosuch');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OpsError);
    expect((err as OpsError).code).toBe('BAD_ARGUMENTS');
    expect((err as OpsError).userMessage).toMatch(/unknown check id nosuch; known: orphan-containers, orphan-volumes, .*log-limits/);
    expect(() => resolveCommand(registry, 'doctor --fix=everything')).toThrow(OpsError);
    expect(() => resolveCommand(registry, 'doctor --force')).toThrow(/unknown option --force/);
  });

  it('needs approval only for destructive fixes', () => {
    const needs = (text: string) => doctorCommand.needsApproval?.(resolveCommand(registry, text).args as never);
    expect(needs('doctor')).toBe(false);
    expect(needs('doctor --fix')).toBe(false);
    expect(needs('doctor --fix=all')).toBe(true);
  });

  it('exits 1 when anything fails, 0 on warnings and passes', () => {
    const warn: Finding = { check: 'pids-limit', status: 'warn', severity: 'low', target: 'container', name: 'x', detail: 'd', runbook: 'resource-limits' };
    const fail: Finding = { ...warn, check: 'privileged', status: 'fail', severity: 'critical', runbook: 'privileges' };
    expect(doctorExitCode(result([warn]))).toBe(0);
    expect(doctorExitCode(result([warn, fail]))).toBe(1);
    expect(doctorCommand.kind === 'job' && doctorCommand.exitCode?.(result([fail]))).toBe(1);
  });

  it('lets local users and listed operators fix; refuses viewers with a clear message', async () => {
    const config = buildConfig({ stack: { project: 'cdb' }, roles: { operator: { users: ['U0OPERATOR'] }, viewer: { users: ['U0VIEWER1'] } } }, {});
    await expect(assertMayFix({ userId: 'local:alice', teamId: 'local' }, config)).resolves.toBeUndefined();
    await expect(assertMayFix({ userId: 'U0OPERATOR', teamId: 'T0001' }, config)).resolves.toBeUndefined();
    await expect(assertMayFix({ userId: 'U0VIEWER1', teamId: 'T0001' }, config)).rejects.toThrow(/needs the \*operator\* role/);
  });
});

describe('rendering', () => {
  const f = (check: Finding['check'], severity: Finding['severity'], name: string): Finding => ({ check, status: severity === 'info' ? 'pass' : severity === 'critical' || severity === 'high' ? 'fail' : 'warn', severity, target: 'container', name, detail: `detail of ${name}`, fix: `fix ${name}\nsecond line`, runbook: 'privileges' });
  const r = result([f('privileged', 'critical', 'a'), f('run-as-root', 'high', 'b'), f('run-as-root', 'high', 'c'), f('log-limits', 'low', 'd'), { ...f('memory-limit', 'info', ''), name: '' }]);

  it('summarizes counts by severity, worst first', () => {
    expect(summaryText(r)).toBe('1 critical · 2 high · 1 low · 1 of 3 checks passed');
    const blocks = JSON.stringify(summaryBlocks(r));
    expect(blocks).toContain(':red_circle: 1 critical · :large_orange_circle: 2 high');
    expect(blocks).toContain(':large_orange_circle: *run-as-root* ×2: `b`, `c` · `runbooks/privileges.md`');
    expect(blocks.indexOf('*privileged*')).toBeLessThan(blocks.indexOf('*run-as-root*'));
    expect(blocks).not.toContain('detail of c');
    // The message is the summary; each problem with its fix goes into the thread.
    const reply = doctorSlack(r);
    expect(JSON.stringify(reply.blocks)).not.toContain('detail of c');
    expect(JSON.stringify(reply.thread)).toContain('detail of c');
    expect(JSON.stringify(reply.blocks)).toContain('in the thread');
    const many = result(Array.from({ length: 30 }, (_, i) => f('run-as-root', 'high', `c${i}`)));
    const manyReply = doctorSlack(many);
    expect(JSON.stringify(manyReply.blocks)).toContain('*run-as-root* ×30: `c0`, `c1`, `c2`, `c3`, `c4` and 25 more');
    expect(JSON.stringify(manyReply.thread)).toContain('c29');
  });

  it('links runbooks under doctor.runbookBaseUrl, and splits details for a thread', () => {
    const linked = JSON.stringify(doctorSlack({ ...r, runbookBaseUrl: 'https://git.example/cdb/runbooks/' }).blocks);
    expect(linked).toContain('<https://git.example/cdb/runbooks/privileges.md|privileges runbook>');
    const many = result(Array.from({ length: 400 }, (_, i) => f('run-as-root', 'high', `c${i}`)));
    const messages = detailMessages(many);
    expect(messages.length).toBeGreaterThan(0);
    for (const m of messages) expect(m.blocks.length).toBeLessThanOrEqual(40);
    expect(JSON.stringify(messages)).toContain('c399');
    expect(doctorSlack(many).blocks?.length).toBeLessThanOrEqual(50);
  });

  it('prints a table and the fixes for terminals', () => {
    const text = doctorText({ ...r, fixes: [{ action: 'remove stopped orphan container', target: 'x', command: 'docker rm x', outcome: 'done' }] });
    expect(text.split('\n')[0]).toMatch(/^STATUS\s+SEVERITY\s+CHECK\s+TARGET\s+NAME\s+DETAIL$/);
    expect(text).toMatch(/FAIL\s+critical\s+privileged\s+container\s+a\s+detail of a/);
    expect(text).toContain('- privileged a (runbooks/privileges.md):\n    fix a\n    second line');
    expect(text).toMatch(/--fix:\n\s+done\s+remove stopped orphan container x\s+\[docker rm x\]/);
  });
});

describe('scheduled runs', () => {
  it('compare which problems exist, not their wording', () => {
    const a: Finding = { check: 'container-health', status: 'warn', severity: 'low', target: 'container', name: 'x', detail: 'restarted 2 times', runbook: 'container-restarting' };
    const pass: Finding = { ...a, status: 'pass', severity: 'info', name: '' };
    expect(findingKeys([a, pass])).toEqual(['container-health|warn|container|x']);
    expect(digestOf(findingKeys([a]))).toBe(digestOf(findingKeys([{ ...a, detail: 'restarted 3 times' }])));
    expect(digestOf(findingKeys([a]))).not.toBe(digestOf(findingKeys([{ ...a, status: 'fail' }])));
    expect(diffKeys(['a', 'b'], ['b', 'c'])).toEqual({ added: ['c'], resolved: ['a'] });
  });

  it('enqueue a valid envelope that only the scheduler produces', () => {
    const env = scheduledEnvelope();
    expect(envelopeSchema.parse(env)).toEqual(env);
    expect(env.args).toEqual({});
    expect(isScheduledRun({ requestId: env.requestId, actor: env.actor })).toBe(true);
    expect(isScheduledRun({ requestId: env.requestId, actor: { userId: 'U0VIEWER1' } })).toBe(false);
    expect(isScheduledRun({ requestId: 'Abc123xyz789', actor: env.actor })).toBe(false);
  });
});

describe('privilege split', () => {
  it('keeps the renderer the bot loads free of Docker and SSH code', async () => {
    const { readFile } = await import('node:fs/promises');
    const source = await readFile(new URL('../../src/shared/render/doctor.ts', import.meta.url), 'utf8');
    const imports = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    expect(imports.every((i) => i?.startsWith('../contracts/') || i?.startsWith('./') || i === '../registry/define-command.ts')).toBe(true);
  });
});
