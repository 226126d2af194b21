import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildRegistry, loadRegistry, resolveCommand } from '../../src/shared/registry/registry.ts';
import { defineCommand, type AnyCommand } from '../../src/shared/registry/define-command.ts';
import { loadJobs } from '../../src/worker/job-registry.ts';
import { OpsError } from '../../src/shared/errors.ts';

const logs = defineCommand({
  kind: 'job',
  name: 'logs',
  summary: 'x',
  usage: 'logs <service> [...filter]',
  role: 'viewer',
  positionals: ['service', '...filter'],
  args: z.object({ service: z.string().regex(/^[a-z]+$/), filter: z.array(z.string()).optional(), since: z.string().optional() }).strict(),
  job: 'logs',
  slack: () => ({ text: '' }),
  text: () => '',
}) as AnyCommand;

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof OpsError ? err.code : 'not an OpsError';
  }
  return undefined;
}

describe('command registry', () => {
  it('discovers every module in commands/ and each job command has a job processor in jobs/', async () => {
    const registry = await loadRegistry();
    const jobs = await loadJobs();
    expect([...registry.keys()]).toEqual(expect.arrayContaining(['help', 'status']));
    for (const cmd of registry.values()) {
      if (cmd.kind === 'job') expect(jobs.has(cmd.job), `job ${cmd.job} for command ${cmd.name}`).toBe(true);
      expect(cmd.summary.length).toBeGreaterThan(0);
      expect(cmd.usage.startsWith(cmd.name)).toBe(true);
    }
  });

  it('maps positionals, rest positionals and flags to validated arguments', () => {
    const registry = buildRegistry([logs]);
    expect(resolveCommand(registry, 'logs web connection refused --since=5m').args).toEqual({ service: 'web', filter: ['connection', 'refused'], since: '5m' });
    expect(resolveCommand(registry, 'LOGS web --json').flags).toEqual({ json: true });
  });

  it('treats empty input as help', async () => {
    expect(resolveCommand(await loadRegistry(), '   ').command.name).toBe('help');
  });

  it('gives stable error codes for unknown commands, unknown options and bad values', async () => {
    const registry = await loadRegistry();
    expect(code(() => resolveCommand(registry, 'nope'))).toBe('UNKNOWN_COMMAND');
    expect(code(() => resolveCommand(registry, 'status --force'))).toBe('BAD_ARGUMENTS');
    expect(code(() => resolveCommand(registry, 'status ../etc'))).toBe('BAD_ARGUMENTS');
    expect(code(() => resolveCommand(registry, 'status a b'))).toBe('BAD_ARGUMENTS');
    expect(code(() => resolveCommand(registry, 'status web'))).toBeUndefined();
  });

  it('escapes what the user typed and usage placeholders, so mrkdwn shows them instead of acting on them', async () => {
    const registry = buildRegistry([logs]);
    expect(() => resolveCommand(registry, '<!channel>')).toThrowError(/don’t know `&lt;!channel&gt;`/);
    expect(() => resolveCommand(registry, 'logs BAD')).toThrowError(/Usage: `\/cdb logs &lt;service&gt; \[\.\.\.filter\]`/);
    try {
      resolveCommand(registry, '<!channel>');
    } catch (err) {
      expect((err as OpsError).userMessage).not.toContain('<!channel>');
    }
  });

  it('suggests a near command name', async () => {
    const registry = await loadRegistry();
    expect(() => resolveCommand(registry, 'stat')).toThrowError(/Did you mean `status`/);
  });

  it('refuses two commands with one name and names that are not kebab-case', () => {
    expect(() => buildRegistry([logs, logs])).toThrowError(/two commands/);
    expect(() => defineCommand({ ...(logs as object), name: 'Bad_Name' } as AnyCommand)).toThrowError(/must match/);
  });
});
