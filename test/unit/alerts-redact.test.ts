import { describe, expect, it } from 'vitest';
import { dedupeLines, fingerprintLine, redactLine, redactSecrets } from '../../src/features/alerts/redact.ts';

describe('secret redaction of log lines', () => {
  it.each([
    ['level=error msg="login failed" password=hunter2 user=bob', 'hunter2'],
    ['DB_PASSWORD: s3cr3t-value', 's3cr3t-value'],
    ['{"api_key": "AbCdEf123456", "ok": true}', 'AbCdEf123456'],
    ['Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', 'eyJzdWIiOiIxMjM0NTY3ODkwIn0'],
    ['connecting to postgres://app:p4ssw0rd@db:5432/app', 'p4ssw0rd'],
    ['redis://:r3dispass@cache:6379/0 refused', 'r3dispass'],
    ['slack token xoxb-1234567890-abcdefghijklmnop used', 'abcdefghijklmnop'],
    ['token=ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'],
    ['aws key AKIAIOSFODNN7EXAMPLE leaked', 'AKIAIOSFODNN7EXAMPLE'],
    ["secret='quoted value'", 'quoted value'],
    ['-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAA -----END OPENSSH PRIVATE KEY-----', 'b3BlbnNzaC1rZXktdjEAAAAA'],
    ['X-Api-Key: Basic dXNlcjpwYXNzd29yZA==', 'dXNlcjpwYXNzd29yZA=='],
  ])('masks the secret in %j', (line, secret) => {
    const out = redactSecrets(line);
    expect(out).not.toContain(secret);
    expect(out).toContain('[REDACTED]');
  });

  it('leaves ordinary lines alone', () => {
    for (const line of ['level=error msg="connection refused to upstream"', 'GET /health 200 3ms', 'token bucket refilled: 5 tokens']) expect(redactSecrets(line)).toBe(line);
  });

  it('strips terminal escapes and control characters, folds newlines, bounds length', () => {
    expect(redactLine('\u001b[31mERROR\u001b[0m boom\u0007\nnext')).toBe('ERROR boom ⏎ next');
    const long = redactLine('x'.repeat(2000), 300);
    expect(long).toHaveLength(300);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('deduplication', () => {
  it('groups lines that differ only in timestamps, ids and numbers, most frequent first', () => {
    const lines = [
      { ns: '5', line: '2026-01-01T10:00:05Z error: timeout after 3001ms (req 7f3a9c2e11aa42)' },
      { ns: '4', line: 'level=error msg="connection refused"' },
      { ns: '3', line: '2026-01-01T10:00:03Z error: timeout after 2999ms (req 0b1c2d3e4f5a6b)' },
      { ns: '2', line: '2026-01-01T10:00:02Z error: timeout after 3000ms (req 99aa88bb77cc66)' },
    ];
    const out = dedupeLines(lines, 10);
    expect(out).toEqual([
      { line: lines[0]!.line, count: 3, lastNs: '5' },
      { line: lines[1]!.line, count: 1, lastNs: '4' },
    ]);
    expect(fingerprintLine(lines[0]!.line)).toBe(fingerprintLine(lines[2]!.line));
    expect(dedupeLines(lines, 1)).toHaveLength(1);
  });
});

describe('redaction keeps paths that merely name a secret', () => {
  it('does not mask what follows a secret file path', () => {
    const line = 'open /run/secrets/db_password: is a directory';
    expect(redactSecrets(line)).toBe(line);
    expect(redactSecrets('cat: /run/secrets/grafana_password: Is a directory')).toContain('Is a directory');
  });
});
