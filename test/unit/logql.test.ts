import { describe, expect, it } from 'vitest';
import { durationMs } from '../../src/shared/duration.ts';
import { containersSelector, errorCountQuery, logqlString, regexLiteral, serviceSelector, stackSelector, withLineFilter } from '../../src/features/alerts/logql.ts';
import { parseLogQL, type LogQLExpr } from '../support/logql.ts';

const HOSTILE = [
  'say "hi"',
  'back\\slash\\',
  'a `backtick` b',
  '} |= "x" or {job="other"}',
  '"} | json | line_format "{{.password}}',
  'line1\nline2',
  'cr\rtab\t',
  '\u0000nul\u001b[31mred\u007f',
  '{{', '}}', '}', '{',
  'ünïcödé 😀 \u2028 end',
  "'single' quotes",
  '|~ ".*"',
  '\\"',
  '\\\\\\',
];

function logExpr(e: LogQLExpr) {
  if (e.kind !== 'log') throw new Error(`expected a log query, got ${e.kind}`);
  return e;
}

describe('LogQL string escaping', () => {
  it.each(HOSTILE)('keeps %j inside one string literal, value intact', (value) => {
    const query = withLineFilter('{container_name="cdb_core"}', value);
    const parsed = logExpr(parseLogQL(query));
    expect(parsed.matchers.map((m) => [m.name, m.op, m.value])).toEqual([['container_name', '=', 'cdb_core']]);
    expect(parsed.filters.map((f) => [f.op, f.value])).toEqual([['|=', value]]);
  });

  it('uses only escapes that Go strconv.Unquote (Loki) reads back the same', () => {
    for (const value of HOSTILE) {
      const lit = logqlString(value);
      expect(lit.startsWith('"') && lit.endsWith('"')).toBe(true);
      const escapes = [...lit.slice(1, -1).matchAll(/\\(u[0-9a-f]{4}|.)/g)].map((m) => m[1]!.startsWith('u') ? 'u' : m[1]);
      for (const e of escapes) expect(['"', '\\', 'n', 'r', 't', 'u']).toContain(e);
      // No raw control character or newline is left in the literal.
      // eslint-disable-next-line no-control-regex
      expect(lit).not.toMatch(/[\u0000-\u001f\u007f]/);
    }
  });

  it('refuses overlong filters rather than cutting them', () => {
    expect(() => withLineFilter('{a="b"}', 'x'.repeat(201))).toThrow(/longer than 200/);
    expect(withLineFilter('{a="b"}', undefined)).toBe('{a="b"}');
  });
});

describe('LogQL builders', () => {
  it('builds the single aggregated error-count query for the whole stack', () => {
    const q = errorCountQuery({ project: 'cdb', containerLabel: 'container_name', errorPattern: '(?i)(error|fatal|panic|exception)', errorWindow: '5m' });
    expect(q).toBe('sum by (container_name) (count_over_time({container_name=~"/?cdb[_-].+"} |~ "(?i)(error|fatal|panic|exception)" [5m]))');
    const parsed = parseLogQL(q);
    expect(parsed).toMatchObject({ kind: 'agg', op: 'sum', by: ['container_name'], inner: { kind: 'range', fn: 'count_over_time', rangeNs: 300_000_000_000n } });
  });

  it('matches exactly the named containers, dots and dashes taken literally', () => {
    const sel = logExpr(parseLogQL(containersSelector('container_name', ['cdb_core', 'proj.x-web-1'])));
    const re = sel.matchers[0]!.re!;
    for (const ok of ['cdb_core', '/cdb_core', 'proj.x-web-1']) expect(re.test(ok)).toBe(true);
    for (const no of ['cdb_core2', 'xcdb_core', 'projXx-web-1', 'cdb_cor']) expect(re.test(no)).toBe(false);
  });

  it('finds a removed service by the compose naming rules (v1, v2, container_name)', () => {
    const re = logExpr(parseLogQL(serviceSelector('container_name', 'cdb', 'core'))).matchers[0]!.re!;
    for (const ok of ['cdb_core', 'cdb_core_1', 'cdb-core-2']) expect(re.test(ok)).toBe(true);
    for (const no of ['cdb_corex', 'cdb_api', 'other_core']) expect(re.test(no)).toBe(false);
  });

  it('uses a configured selector as is', () => {
    expect(stackSelector({ project: 'x', containerLabel: 'container', selector: '{job="docker"}' })).toBe('{job="docker"}');
  });

  it('escapes regular-expression metacharacters and parses durations', () => {
    expect(regexLiteral('a.b*c(d)[e]{f}|g^h$i?j+k\\')).toBe('a\\.b\\*c\\(d\\)\\[e\\]\\{f\\}\\|g\\^h\\$i\\?j\\+k\\\\');
    expect(durationMs('15m')).toBe(900_000);
    expect(durationMs('2d')).toBe(172_800_000);
    expect(() => durationMs('5 m')).toThrow();
  });
});
