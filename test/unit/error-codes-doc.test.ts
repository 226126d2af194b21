import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_CODES } from '../../src/shared/errors.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** The codes docs/errors.md documents: the first cell of each table row. */
async function documentedCodes(): Promise<string[]> {
  const text = await readFile(join(ROOT, 'docs', 'errors.md'), 'utf8');
  return [...text.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1] as string);
}

describe('docs/errors.md', () => {
  it('documents exactly the codes in ERROR_CODES, each once', async () => {
    const documented = await documentedCodes();
    expect(new Set(documented).size, 'a code is documented twice').toBe(documented.length);
    expect([...documented].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('says for every code what it means and how to fix it', async () => {
    const text = await readFile(join(ROOT, 'docs', 'errors.md'), 'utf8');
    for (const code of Object.keys(ERROR_CODES)) {
      const row = text.split('\n').find((l) => l.startsWith(`| \`${code}\` |`)) ?? '';
      const cells = row.split('|').slice(2, -1).map((c) => c.trim());
      expect(cells, code).toHaveLength(2);
      expect(cells[0]?.length, `${code}: meaning`).toBeGreaterThan(10);
    }
  });
});
