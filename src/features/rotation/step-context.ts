import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Queue } from 'bullmq';
import type { Config } from '../../shared/config/schema.ts';
import { OpsError } from '../../shared/errors.ts';
import type { JobEnvelope } from '../../shared/contracts/envelope.ts';
import { envelopeTarget, openJobsQueue } from '../../shared/queue/names.ts';
import { consumerOps } from './consumers.ts';
import type { Journal, SecretHost, SecretSpec, StepContext } from './engine.ts';
import { kindFor } from './registry.ts';
import { stackSecretHost } from './secret-host.ts';

export interface RotationDeps {
  readonly config: Config;
  readonly docker: Docker;
  readonly redis: Redis;
  readonly log: Logger;
  /** Identifies this worker in the lease and the journal. */
  readonly workerId: string;
  readonly signal: AbortSignal;
  progress(text: string): void;
  /** Other hosts for multi-host kinds; default: none. */
  openHost?(name: string): Promise<SecretHost>;
}

/** The context steps see; `close` closes the hosts it opened. */
export function makeContext(deps: RotationDeps, spec: SecretSpec, journal: Pick<Journal, 'id' | 'state'>, signal: AbortSignal, persist: (j: never) => Promise<void>): { ctx: StepContext<Record<string, unknown>>; close(): Promise<void> } {
  const { config, docker, log } = deps;
  const kind = kindFor(spec);
  const host = stackSecretHost(config);
  const opened: SecretHost[] = [];
  // The target's own queue: the follow-up (e.g. the end of an api-key window) runs on this stack's worker.
  const queue = (): Queue => openJobsQueue(config, deps.redis, log);
  const ctx: StepContext<Record<string, unknown>> = {
    rotationId: journal.id, secret: spec, options: kind.options.parse(spec.options), host, stateDir: config.rotation.stateDir, docker, project: config.stack.project,
    consumers: consumerOps(docker, config.stack.project, config.rotation.healthTimeoutSeconds * 1000, signal),
    log: log.child({ rotation: journal.id, secret: spec.name }), signal, progress: deps.progress,
    get state() {
      return journal.state;
    },
    async save(patch) {
      journal.state = { ...journal.state, ...patch };
      await persist(journal as never);
    },
    async openHost(name) {
      if (!deps.openHost) throw new OpsError('CONFIG_INVALID', `This worker cannot reach host ${name} for rotations.`);
      const h = await deps.openHost(name);
      opened.push(h);
      return h;
    },
    async schedule(key, job, args, runAt) {
      const q = queue();
      try {
        const jobId = `rotation-${key.replace(/[^a-zA-Z0-9_-]/g, '-')}`;
        await q.remove(jobId).catch(() => 0);
        const envelope: JobEnvelope = { requestId: jobId.slice(0, 64), command: job, args, actor: { userId: 'local:scheduler', teamId: 'local', name: 'rotation' }, origin: { kind: 'schedule' }, requestedAt: Date.now(), ...envelopeTarget(config) };
        await q.add(job, envelope, { jobId, delay: Math.max(0, runAt - Date.now()), removeOnComplete: 50, removeOnFail: 50 });
      } finally {
        await q.close();
      }
    },
    async unschedule(key) {
      const q = queue();
      try {
        await q.remove(`rotation-${key.replace(/[^a-zA-Z0-9_-]/g, '-')}`).catch(() => 0);
      } finally {
        await q.close();
      }
    },
  };
  return {
    ctx,
    async close() {
      await host.close().catch(() => undefined);
      for (const h of opened) await h.close().catch(() => undefined);
    },
  };
}
