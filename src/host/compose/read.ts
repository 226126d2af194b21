import { posix } from 'node:path';
import { parse as parseDotEnv } from 'dotenv';
import { parse as parseYaml } from 'yaml';
import { OpsError } from '../../shared/errors.ts';
import type { HostFiles } from '../host-files.ts';
import { interpolateDeep } from './interpolate.ts';
import { buildComposeModel, type ComposeModel } from './model.ts';

/** One compose file as read: its parsed, interpolated document, or why there is none. */
export type ComposeSource =
  | { readonly path: string; readonly doc: unknown; readonly problem?: undefined }
  | { readonly path: string; readonly doc?: undefined; readonly problem: { readonly kind: 'missing' | 'unreadable' | 'invalid'; readonly detail: string } };

export interface ComposeFiles {
  /** The directory of the first file: compose's project directory, where `.env` is read from. */
  readonly baseDir: string;
  readonly sources: readonly ComposeSource[];
}

/**
 * The one way cdb reads a stack's compose files: each file from the stack host, parsed as YAML
 * (merge keys on), with `${VAR}`, `${VAR:-default}`, `$$`… interpolated from the `.env` next to the
 * first file, as compose does. Without a `.env`, variables without defaults become '' (compose
 * warns and does the same).
 */
export async function readComposeFiles(files: HostFiles, paths: readonly string[]): Promise<ComposeFiles> {
  const baseDir = posix.dirname(posix.resolve(paths[0] ?? '/.'));
  let env: Record<string, string> = {};
  try {
    env = parseDotEnv(Buffer.from((await files.read(posix.join(baseDir, '.env'))) ?? ''));
  } catch {
    // An unreadable .env is a missing one: the compose files themselves say what is wrong.
  }
  const sources = await Promise.all(paths.map(async (path): Promise<ComposeSource> => {
    let text: string | undefined;
    try {
      text = await files.read(path);
    } catch (err) {
      return { path, problem: { kind: 'unreadable', detail: err instanceof OpsError ? err.userMessage : ((err as NodeJS.ErrnoException).code ?? (err as Error).message) } };
    }
    if (text === undefined) return { path, problem: { kind: 'missing', detail: 'not found' } };
    try {
      return { path, doc: interpolateDeep(parseYaml(text, { merge: true }), env) };
    } catch (err) {
      return { path, problem: { kind: 'invalid', detail: (err as Error).message.split('\n')[0] ?? 'invalid YAML' } };
    }
  }));
  return { baseDir, sources };
}

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

/** The merged model of the stack (the doctor's view), or the first reason there is none. */
export async function readCompose(files: HostFiles, paths: readonly string[], project: string): Promise<ComposeRead> {
  if (!paths.length) return { problem: 'no compose files: set stack.composeFiles (the files given to docker compose -f)' };
  const read = await readComposeFiles(files, paths);
  const docs: unknown[] = [];
  for (const s of read.sources) {
    if (s.problem?.kind === 'invalid') return { problem: `compose file ${s.path} is not valid YAML: ${s.problem.detail}` };
    if (s.problem) return { problem: `cannot read compose file ${s.path} (${s.problem.detail})` };
    docs.push(s.doc);
  }
  return { model: buildComposeModel(docs, paths, project, read.baseDir) };
}
