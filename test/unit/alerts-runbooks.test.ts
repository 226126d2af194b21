import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRunbooks, matchRunbook, parseRunbook, runbookLink } from '../../src/features/alerts/runbooks.ts';

describe('runbooks', () => {
  it('reads the shipped runbooks and their symptoms from front matter', async () => {
    const all = await loadRunbooks();
    const ids = all.map((r) => r.id);
    for (const id of ['container-restarting', 'secret-file', 'health-check-failing', 'error-burst']) expect(ids).toContain(id);
    expect(all.find((r) => r.id === 'secret-file')?.symptoms).toContain('is a directory');
  });

  it('prefers a phrase from the logs over a symptom name', async () => {
    const all = await loadRunbooks();
    const secret = matchRunbook(all, ['restarting'], ['cat: /run/secrets/grafana_password: Is a directory']);
    expect(secret).toMatchObject({ id: 'secret-file', matchedBy: '"is a directory" in the logs' });
    expect(matchRunbook(all, ['restarting'], ['boom'])?.id).toBe('container-restarting');
    expect(matchRunbook(all, ['unhealthy'], [])?.id).toBe('health-check-failing');
    expect(matchRunbook(all, ['errors'], ['level=error msg=x'])?.id).toBe('error-burst');
    // A crash outranks an error burst when both are present.
    expect(matchRunbook(all, ['restarting', 'errors'], [])?.id).toBe('container-restarting');
  });

  it('skips files without usable front matter and survives a missing folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdb-runbooks-'));
    writeFileSync(join(dir, 'plain.md'), '# Just text\n');
    writeFileSync(join(dir, 'broken.md'), '---\nsymptoms: [unclosed\n---\n');
    writeFileSync(join(dir, 'good.md'), '---\nsymptoms:\n  - Disk Full\n---\n# Disk is full\n');
    expect((await loadRunbooks(dir)).map((r) => [r.id, r.title, r.symptoms])).toEqual([['good', 'Disk is full', ['disk full']]]);
    expect(await loadRunbooks(join(dir, 'nope'))).toEqual([]);
    expect(parseRunbook('x.md', '---\nid: x\n---\n')).toBeUndefined();
  });

  it('links to the configured base URL or names the file', () => {
    const rb = { file: 'secret-file.md', title: 'Secret file <missing>' };
    expect(runbookLink(rb)).toBe('`runbooks/secret-file.md`');
    expect(runbookLink(rb, 'https://git.example/ops/cdb/-/blob/main/runbooks/')).toBe('<https://git.example/ops/cdb/-/blob/main/runbooks/secret-file.md|Secret file missing>');
  });
});
