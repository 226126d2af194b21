import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * Imports every module of a top-level folder (commands/ or jobs/) and returns their default exports,
 * so that adding a command is adding a file, with no list to keep in sync.
 */
export async function loadDefaultExports(folder: 'commands' | 'jobs'): Promise<unknown[]> {
  const dir = join(ROOT, folder);
  const files = (await readdir(dir)).filter((f) => /^[a-z0-9-]+\.(ts|js)$/.test(f) && !f.endsWith('.d.ts')).sort();
  const modules = await Promise.all(files.map((f) => import(pathToFileURL(join(dir, f)).href) as Promise<{ default?: unknown }>));
  return modules.map((m, i) => {
    if (!m.default) throw new Error(`${folder}/${files[i]} has no default export`);
    return m.default;
  });
}
