import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CHECKS, RUNBOOKS } from '../../src/shared/contracts/doctor.ts';

const ROOT = join(import.meta.dirname, '..', '..');
/** Written for the doctor; the others are shared with the alert watcher. */
const DOCTOR_RUNBOOKS = ['orphans', 'ports', 'password-contract', 'networks', 'compose-drift', 'privileges', 'filesystem', 'resource-limits', 'resilience', 'logging', 'doctor'];

async function frontMatter(id: string): Promise<{ meta: Record<string, unknown>; body: string }> {
  const text = await readFile(join(ROOT, 'runbooks', `${id}.md`), 'utf8');
  const m = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text);
  if (!m) throw new Error(`runbooks/${id}.md has no front matter`);
  return { meta: parseYaml(m[1] as string) as Record<string, unknown>, body: m[2] as string };
}

describe('doctor runbooks', () => {
  it('exist for every runbook a finding can link, with id, title and a list of symptom strings', async () => {
    for (const id of RUNBOOKS) {
      const { meta } = await frontMatter(id);
      expect(meta.id, id).toBe(id);
      expect(typeof meta.title, id).toBe('string');
      expect(Array.isArray(meta.symptoms) && meta.symptoms.length > 0 && meta.symptoms.every((s) => typeof s === 'string'), `${id} symptoms`).toBe(true);
    }
    for (const c of CHECKS) expect(RUNBOOKS, c.id).toContain(c.runbook);
  });

  it('give copy-paste commands and name the checks they cover', async () => {
    for (const id of DOCTOR_RUNBOOKS) {
      const { body } = await frontMatter(id);
      expect(body, id).toMatch(/```(bash|yaml|json)\n/);
      for (const c of CHECKS.filter((x) => x.runbook === id)) expect(body, `${id} names ${c.id}`).toContain(`\`${c.id}\``);
    }
  });
});
