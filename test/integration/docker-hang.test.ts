// A Docker endpoint that accepts connections and never answers (a hung dockerd, a stuck proxy): the
// job's time limit must end it with an error that names Docker and the request it waited for, not a
// bare JOB_TIMEOUT that sends people looking at the job.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createDocker } from '../../src/host/docker-client.ts';
import { defineJob, type AnyJob } from '../../src/worker/define-job.ts';
import { startWorker, type RunningWorker } from '../../src/worker/run-worker.ts';
import statusJob from '../../jobs/status.ts';
import { REDIS_URL, startHarness, type Harness } from '../support/harness.ts';
import { randomSuffix } from '../support/compose-stack.ts';
import { finalReplyTo } from '../support/final-reply.ts';

const VIEWER = 'U0VIEWER1';

describe('Docker that accepts connections and never answers', () => {
  let silent: Server;
  const sockets = new Set<Socket>();
  let h: Harness;
  let worker: RunningWorker | undefined;
  let connection: Redis | undefined;
  let accepted = 0;

  beforeAll(async () => {
    silent = createServer((socket) => {
      accepted += 1;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.resume(); // read the request, never write a byte back
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const file = { stack: { project: `cdbt${randomSuffix()}`, docker: `tcp://127.0.0.1:${port}` }, redis: { prefix: `cdbt-${randomSuffix()}` }, roles: { viewer: { users: [VIEWER] } } };
    h = await startHarness({ file, worker: false });
    const config = buildConfig(file, { REDIS_URL }, '(docker hang worker)');
    connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    // The real status job with a short limit (the minimum of worker.jobTimeoutSeconds is 5 s).
    const jobs = new Map<string, AnyJob>([['status', defineJob({ ...statusJob, timeoutMs: 5000 }) as AnyJob]]);
    worker = startWorker({ config, jobs, docker: createDocker(config), connection, log: h.log });
  });

  afterAll(async () => {
    await worker?.close();
    await connection?.quit().catch(() => undefined);
    await h?.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => silent?.close(() => resolve()));
  });

  it('ends the job with DOCKER_UNAVAILABLE naming the unanswered Engine request', async () => {
    const reply = await finalReplyTo(h.slack, () => h.slash('status', { user_id: VIEWER }));
    expect(accepted).toBeGreaterThan(0);
    const text = JSON.stringify(reply.blocks);
    expect(reply.text).toContain('failed');
    expect(reply.text).toMatch(/Docker Engine accepted the connection but did not answer `GET \/containers\/json` for \d+ s/);
    expect(text).toContain('DOCKER_UNAVAILABLE');
    expect(text).not.toContain('JOB_TIMEOUT');
  });
});
