import { describe, expect, it } from 'vitest';
import logs from '../../commands/logs.ts';
import restart from '../../commands/restart.ts';
import { buildRegistry, resolveCommand } from '../../src/shared/registry/registry.ts';
import type { AnyCommand } from '../../src/shared/registry/define-command.ts';
import { logsArgsSchema, type LogsResult } from '../../src/shared/contracts/logs.ts';
import { withLineFilter } from '../../src/features/alerts/logql.ts';
import { parseLogQL } from '../support/logql.ts';

const registry = buildRegistry([logs as AnyCommand, restart as AnyCommand]);
const render = (r: LogsResult) => {
  if (logs.kind !== 'job') throw new Error('logs is a job command');
  return logs.slack(r, {} as never);
};
const args = (text: string) => resolveCommand(registry, text).args;

describe('/cdb logs arguments', () => {
  it('takes a service, a filter of any words, --since and --limit', () => {
    expect(args('logs core')).toEqual({ service: 'core', since: '15m', limit: 100 });
    expect(args('logs core connection refused --since 1h --limit 50')).toEqual({ service: 'core', filter: 'connection refused', since: '1h', limit: 50 });
    expect(args('logs core "two  spaces"')).toEqual({ service: 'core', filter: 'two  spaces', since: '15m', limit: 100 });
  });

  it('passes hostile filter text through unchanged, and LogQL keeps it a string', () => {
    for (const [typed, filter] of [
      [`logs core 'say "hi" } |= \`x\` {job="a"}'`, 'say "hi" } |= `x` {job="a"}'],
      ['logs core "line1\nline2"', 'line1\nline2'],
      [`logs core "it's" --since=5m`, "it's"],
    ] as const) {
      const parsed = args(typed);
      expect(parsed.filter).toBe(filter);
      // The worker validates the same data again, and the query keeps the filter whole.
      const job = logsArgsSchema.parse(parsed);
      const q = parseLogQL(withLineFilter('{container_name="cdbt_core_1"}', job.filter));
      expect(q.kind === 'log' && q.filters.map((f) => f.value)).toEqual([filter]);
      expect(q.kind === 'log' && q.matchers.length).toBe(1);
    }
  });

  it('refuses bad services, long filters, odd durations and limits', () => {
    for (const bad of ['logs "core;rm -rf /"', `logs core ${'x'.repeat(201)}`, 'logs core --since 5', 'logs core --since 8d', 'logs core --limit 5000', 'logs core --limit abc', 'logs core --limit 0', 'logs']) {
      expect(() => resolveCommand(registry, bad), bad).toThrow();
    }
  });

  it('needs the operator role for restart and the viewer role for logs', () => {
    expect(registry.get('restart')?.role).toBe('operator');
    expect(registry.get('logs')?.role).toBe('viewer');
    expect(args('restart core')).toEqual({ service: 'core' });
  });
});

describe('/cdb logs rendering', () => {
  const result = (n: number, line = (i: number) => `line ${i}`): LogsResult => ({
    service: 'core', since: '15m', limit: 1000, source: 'loki', query: '{container_name=~"/?(?:cdbt_core_1)"} |= "<!channel> `x`"', containers: ['cdbt_core_1'],
    lines: Array.from({ length: n }, (_, i) => ({ ts: new Date(1_800_000_000_000 + i).toISOString(), container: 'cdbt_core_1', line: line(i) })), truncated: false, filter: '<!channel>',
  });

  it('shows a few lines inline, escaped for mrkdwn', () => {
    const msg = render(result(3, () => '<!channel> ```breakout``` & more'));
    const json = JSON.stringify(msg.blocks);
    expect(msg.file).toBeUndefined();
    expect(json).not.toContain('<!channel>');
    expect(json).toContain('&lt;!channel&gt;');
    expect(json).not.toMatch(/```breakout```/);
  });

  it('attaches long output as a file, with a preview', () => {
    const msg = render(result(300));
    expect(msg.file?.filename).toBe('core-logs.txt');
    expect(msg.file?.content.split('\n').filter(Boolean)).toHaveLength(300);
    for (const b of msg.blocks ?? []) expect(JSON.stringify(b).length).toBeLessThan(3500);
  });
});

describe('/cdb logs flag values', () => {
  it('reads `--since 15m` and `--limit 50` (space form) as well as the = form', () => {
    expect(args('logs core error --since 1h --limit 50')).toEqual({ service: 'core', filter: 'error', since: '1h', limit: 50 });
    expect(args('logs core --since 30m')).toEqual({ service: 'core', since: '30m', limit: 100 });
    expect(args('logs core 15m --since=1h')).toEqual({ service: 'core', filter: '15m', since: '1h', limit: 100 });
    expect(args('logs core 500 --limit 20')).toEqual({ service: 'core', filter: '500', since: '15m', limit: 20 });
    expect(() => args('logs core --since')).toThrow(/since/);
  });
});
