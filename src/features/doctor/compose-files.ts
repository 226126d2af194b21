import { posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { interpolateDeep, parseDotEnv } from './compose-merge.ts';
import { buildComposeModel, type ComposeModel } from './compose-model.ts';
import type { FileAccess } from './file-access.ts';

export type ComposeRead = { readonly model: ComposeModel; readonly problem?: undefined } | { readonly model?: undefined; readonly problem: string };

/**
 * Which compose files describe the stack: `stack.composeFiles` when configured, else what compose
 * itself recorded on the containers (config_files + working_dir labels).
 */
export function composeFilesFromLabels(labels: readonly Readonly<Record<string, string>>[]): string[] {
  for (const l of labels) {
    const list = l['com.docker.compose.project.config_files'];
    if (!list) continue;
    const dir = l['com.docker.compose.project.working_dir'] ?? '/';
    return list.split(',').map((f) => f.trim()).filter(Boolean).map((f) => posix.resolve(dir, f));
  }
  return [];
}

/**
 * Reads, interpolates (variables from the `.env` next to the first file; the worker's own
 * environment is not the shell the stack was started from) and merges the files in order.
 */
export async function readCompose(files: FileAccess, paths: readonly string[], project: string): Promise<ComposeRead> {
  if (!paths.length) return { problem: 'no compose files: set stack.composeFiles (the files given to docker compose -f)' };
  const baseDir = posix.dirname(posix.resolve(paths[0] as string));
  let env: Record<string, string> = {};
  try {
    env = parseDotEnv(await files.readText(posix.join(baseDir, '.env')));
  } catch {
    // No .env: variables without defaults interpolate to '', as compose warns and does.
  }
  const docs: unknown[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await files.readText(path);
    } catch (err) {
      return { problem: `cannot read compose file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
    }
    try {
      docs.push(interpolateDeep(parseYaml(text, { merge: true }), env));
    } catch (err) {
      return { problem: `compose file ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}` };
    }
  }
  return { model: buildComposeModel(docs, paths, project, baseDir) };
}
