// Shared by test/integration/rollback*.test.ts: a throwaway compose stack whose services use
// `<project>/<name>:current` (retagged to "deploy"), the job context the rollback jobs run with,
// and cleanup of everything a rollback test creates (containers, volumes, tags, manifests, keys).
import Docker from 'dockerode';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeRollbackArtifacts } from '../support/app-images.ts';
import { runCommand } from '../support/images.ts';
import { randomSuffix, startComposeStack, waitFor, type ComposeServices, type ComposeStack } from '../support/compose-stack.ts';
import { buildConfig } from '../../src/shared/config/load.ts';
import { createLogger } from '../../src/shared/log.ts';
import type { JobContext } from '../../src/worker/define-job.ts';
import { jobRedis } from '../support/harness.ts';

export const T = 240_000;
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const docker = new Docker();

export interface Fixture {
  readonly project: string;
  readonly stack: ComposeStack;
  readonly manifestDir: string;
  readonly prefix: string;
  readonly overlay: string;
  ctx(): JobContext;
  /** Points `<project>/<name>:current` at an image and runs `docker-compose up -d`, as a deploy would. */
  deploy(refs: Record<string, string>): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startFixture(refs: Record<string, string>, services: (project: string) => ComposeServices, extra: Record<string, unknown> = {}, rollback: Record<string, unknown> = {}): Promise<Fixture> {
  const project = `cdbt${randomSuffix()}`;
  const prefix = `cdbt-${randomSuffix()}`;
  const manifestDir = await mkdtemp(join(tmpdir(), 'cdbt-manifests-'));
  const tagRefs = async (r: Record<string, string>) => {
    for (const [name, image] of Object.entries(r)) await runCommand('docker', ['tag', image, `${project}/${name}:current`]);
  };
  await tagRefs(refs);
  const stack = await startComposeStack({ project, services: services(project), extra });
  const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const redis = jobRedis();
  const fixture: Fixture = {
    project,
    stack,
    manifestDir,
    prefix,
    overlay: join(stack.dir, 'rollback.yml'),
    ctx() {
      const config = buildConfig({ stack: { project, composeFiles: [stack.file] }, redis: { prefix }, rollback: { manifestDir, healthTimeoutSeconds: 60, ...rollback } }, { REDIS_URL }, '(rollback test)');
      return { requestId: `req-${randomSuffix()}`, actor: { userId: 'U0TESTER', teamId: 'T0TEST', name: 'tester' }, config, docker, redis, log, signal: new AbortController().signal, progress: () => undefined, notify: async () => undefined };
    },
    async deploy(r) {
      await tagRefs(r);
      await stack.compose(['up', '-d']);
    },
    async cleanup() {
      await redis.quit().catch(() => redis.disconnect());
      // A recreation binds anonymous volumes by name (as compose does), so `down -v` keeps them: collect them first.
      const anonymous = new Set<string>();
      for (const c of await stack.ps().catch(() => [])) {
        const info = await docker.getContainer(c.id).inspect().catch(() => undefined);
        for (const m of info?.Mounts ?? []) if (m.Type === 'volume' && m.Name && /^[a-f0-9]{64}$/.test(m.Name)) anonymous.add(m.Name);
      }
      await stack.down().catch(() => undefined);
      for (const v of anonymous) await docker.getVolume(v).remove().catch(() => undefined);
      await removeRollbackArtifacts({ project, prefix, manifestDir, redisUrl: REDIS_URL });
    },
  };
  return fixture;
}

export async function healthy(stack: ComposeStack, services: string[]): Promise<void> {
  await waitFor(async () => {
    const ps = await stack.ps();
    return services.every((s) => ps.some((c) => c.service === s && c.health === 'healthy'));
  }, { what: `${services.join(', ')} to be healthy`, timeoutMs: 120_000, intervalMs: 250 });
}

export async function version(stack: ComposeStack, service: string): Promise<string> {
  const { host, port } = await stack.hostPort(service, 8080);
  return waitFor(async () => {
    const res = await fetch(`http://${host}:${port}/version`);
    return res.ok ? (await res.text()).trim() : null;
  }, { what: `${service} to answer`, timeoutMs: 60_000 });
}

export async function inspect(stack: ComposeStack, service: string): Promise<Docker.ContainerInspectInfo> {
  return docker.getContainer((await stack.container(service)).id).inspect();
}

export const composeLabels = (info: Docker.ContainerInspectInfo) => Object.fromEntries(Object.entries(info.Config.Labels).filter(([k]) => k.startsWith('com.docker.compose.')));
export const envOf = (info: Docker.ContainerInspectInfo, name: string) => info.Config.Env.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);
export const aliases = (info: Docker.ContainerInspectInfo, net: string): string[] => (info.NetworkSettings.Networks[net]?.Aliases as string[] | null) ?? [];
