import { Writable } from 'node:stream';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/shared/config/load.ts';
import { defineCommand, type AnyCommand } from '../../src/shared/registry/define-command.ts';
import { buildRegistry } from '../../src/shared/registry/registry.ts';
import { approvalSettings, jobNeedsApproval, needsApproval } from '../../src/shared/approval/policy.ts';
import { approvalDigest, canonicalJson } from '../../src/shared/approval/digest.ts';
import { runCli } from '../../src/main/run-cli.ts';
import { createLogger } from '../../src/shared/log.ts';

const config = buildConfig({ stack: { project: 'cdb' }, approvals: { commands: ['listed'], overrides: { zap: { required: 2, expiryMinutes: 0.5 } } } }, {});

function job(name: string, extra: Partial<AnyCommand> = {}): AnyCommand {
  return defineCommand({
    kind: 'job', name, job: name, summary: name, usage: name, role: 'operator',
    args: z.object({ fix: z.boolean().optional() }).strict(),
    slack: () => ({ text: 'ok' }), text: () => 'ok',
    ...extra,
  } as AnyCommand) as AnyCommand;
}

const zap = job('zap', { approval: true });
const doctorish = job('doctorish', { approval: true, needsApproval: (a: Record<string, unknown>) => a.fix === true } as Partial<AnyCommand>);
const listed = job('listed');
const harmless = job('harmless');
const alias = { ...job('zap-alias'), job: 'zap' } as AnyCommand;
const registry = buildRegistry([zap, doctorish, listed, harmless, alias]);

describe('which runs need approval', () => {
  it('takes the command’s own flag as a floor and the config list as an addition', () => {
    expect(needsApproval(zap, {}, config)).toBe(true);
    expect(needsApproval(listed, {}, config)).toBe(true);
    expect(needsApproval(harmless, {}, config)).toBe(false);
    // A config that lists nothing still cannot exempt a command that declares approval.
    const none = buildConfig({ stack: { project: 'cdb' }, approvals: { commands: [] } }, {});
    expect(needsApproval(zap, {}, none)).toBe(true);
  });

  it('lets a command narrow approval to risky arguments, failing closed if the predicate throws', () => {
    expect(needsApproval(doctorish, {}, config)).toBe(false);
    expect(needsApproval(doctorish, { fix: true }, config)).toBe(true);
    const throws = job('throws', { approval: true, needsApproval: () => { throw new Error('x'); } } as Partial<AnyCommand>);
    expect(needsApproval(throws, {}, config)).toBe(true);
  });

  it('gates jobs on the worker whatever command name the envelope claims', () => {
    expect(jobNeedsApproval(registry, config, 'zap', 'zap', {})).toBe(true);
    expect(jobNeedsApproval(registry, config, 'harmless', 'zap', {})).toBe(true); // forged command name
    expect(jobNeedsApproval(registry, config, 'zap-alias', 'zap', {})).toBe(true);
    expect(jobNeedsApproval(registry, config, 'harmless', 'harmless', {})).toBe(false);
    expect(jobNeedsApproval(registry, config, 'doctorish', 'doctorish', {})).toBe(false);
    expect(jobNeedsApproval(registry, config, 'doctorish', 'doctorish', { fix: true })).toBe(true);
    // Arguments the command would reject: gated if the command is an approval command at all.
    expect(jobNeedsApproval(registry, config, 'doctorish', 'doctorish', { fix: 'yes', other: 1 })).toBe(true);
    // Names the worker's registry does not know but the config lists: fail closed.
    expect(jobNeedsApproval(registry, config, 'listed-unknown', 'listed', {})).toBe(true);
    const withDefaults = buildConfig({ stack: { project: 'cdb' } }, {});
    expect(jobNeedsApproval(registry, withDefaults, 'rollback', 'rollback', {})).toBe(true);
  });

  it('reads the required count and expiry per command, with defaults 1 and 15 minutes', () => {
    const defaults = buildConfig({ stack: { project: 'cdb' } }, {});
    expect(defaults.approvals.commands).toEqual(['rollback', 'restore', 'rotate', 'doctor', 'clean', 'deep-clean']);
    expect(approvalSettings('rollback', defaults)).toEqual({ required: 1, expiryMs: 15 * 60_000 });
    expect(approvalSettings('zap', config)).toEqual({ required: 2, expiryMs: 30_000 });
    expect(() => buildConfig({ stack: { project: 'cdb' }, approvals: { required: 0 } }, {})).toThrowError(/approvals\.required/);
    expect(() => buildConfig({ stack: { project: 'cdb' }, approvals: { overrides: { zap: { reqired: 2 } } } }, {})).toThrowError(/Unrecognized key/);
    expect(() => buildConfig({ stack: { project: 'cdb' }, slack: { appId: 'not-an-app' } }, {})).toThrowError(/slack\.appId/);
  });
});

describe('the approval digest', () => {
  const base = { id: 'AAAAAAAAAAAAAAAAAAAAAA', command: 'zap', job: 'zap', args: { a: 1, b: { c: [1, 2], d: 'x' } }, requester: { userId: 'U0A', teamId: 'T0001' }, channel: 'C0OPS' };

  it('does not depend on key order but on every value', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe('{"a":{"c":3,"d":2},"b":1}');
    const same = approvalDigest({ ...base, args: { b: { d: 'x', c: [1, 2] }, a: 1 } });
    expect(same).toBe(approvalDigest(base));
    for (const changed of [
      { ...base, args: { ...base.args, a: 2 } },
      { ...base, args: { ...base.args, extra: true } },
      { ...base, command: 'zip' },
      { ...base, job: 'zip' },
      { ...base, channel: 'C0OTHER' },
      { ...base, requester: { userId: 'U0B', teamId: 'T0001' } },
      { ...base, id: 'BAAAAAAAAAAAAAAAAAAAAA' },
    ]) {
      expect(approvalDigest(changed)).not.toBe(approvalDigest(base));
    }
  });
});

describe('the CLI', () => {
  it('never runs a command that needs approval, and says where to request it', async () => {
    let err = '';
    let out = '';
    const sink = (append: (s: string) => void) => new Writable({ write(chunk, _e, cb) { append(String(chunk)); cb(); } });
    let ran = false;
    const trap = job('trap', { approval: true, slack: () => { ran = true; return { text: '' }; } } as Partial<AnyCommand>);
    const code = await runCli({
      argv: ['trap'],
      loadConfig: () => config,
      user: 'mallory',
      log: createLogger({ level: 'silent' }),
      stdout: sink((s) => { out += s; }),
      stderr: sink((s) => { err += s; }),
      registry: buildRegistry([trap, listed]),
    });
    expect(code).toBe(3);
    expect(err).toMatch(/needs a second person’s approval, which is given in Slack/);
    expect(out).toBe('');
    expect(ran).toBe(false);
    // Listed in config only: refused the same way.
    const code2 = await runCli({ argv: ['listed'], loadConfig: () => config, user: 'm', log: createLogger({ level: 'silent' }), stdout: sink(() => undefined), stderr: sink(() => undefined), registry: buildRegistry([listed]) });
    expect(code2).toBe(3);
  });
});
