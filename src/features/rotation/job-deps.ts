import { hostname } from 'node:os';
import type { JobContext } from '../../worker/define-job.ts';
import type { RotationDeps } from './run.ts';

export const WORKER_ID = `${hostname().replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 40)}:${process.pid}`;

export function rotationDeps(ctx: JobContext): RotationDeps {
  return { config: ctx.config, docker: ctx.docker, redis: ctx.redis, log: ctx.log, workerId: WORKER_ID, signal: ctx.signal, progress: (t) => ctx.progress(t) };
}
