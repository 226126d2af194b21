import { loadDefaultExports } from '../shared/registry/load-modules.ts';
import type { AnyJob } from './define-job.ts';

export type JobRegistry = ReadonlyMap<string, AnyJob>;

export async function loadJobs(): Promise<JobRegistry> {
  const map = new Map<string, AnyJob>();
  for (const job of (await loadDefaultExports('jobs')) as AnyJob[]) {
    if (map.has(job.name)) throw new Error(`two jobs are named ${job.name}`);
    map.set(job.name, job);
  }
  return map;
}
