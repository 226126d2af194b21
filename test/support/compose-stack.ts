// Throwaway docker-compose projects for integration tests.
//
//   const stack = await startComposeStack({ project: `cdbt${randomSuffix()}` });
//   try { ... } finally { await stack.down(); }
//
// The YAML is written with compose file format 2.4, which docker-compose
// 1.29.2 (Debian) understands, including healthchecks and restart policies. Written as YAML 1.1
// (what PyYAML reads), so strings such as `no` stay quoted instead of turning into booleans.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { ensureTestImages, runCommand } from './images.ts';

export interface ComposeHealthcheck {
  test: string | string[];
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
  disable?: boolean;
}

/** The compose service keys tests commonly use; any other key passes through. */
export interface ComposeService {
  image: string;
  command: string | string[];
  entrypoint: string | string[];
  environment: Record<string, string> | string[];
  ports: string[];
  expose: string[];
  restart: 'no' | 'always' | 'on-failure' | 'unless-stopped';
  healthcheck: ComposeHealthcheck;
  labels: Record<string, string>;
  volumes: string[];
  user: string;
  working_dir: string;
  depends_on: string[];
  init: boolean;
  stop_grace_period: string;
  tty: boolean;
  [key: string]: unknown;
}

export type ComposeServices = Record<string, Partial<ComposeService>>;

export interface StartComposeStackOptions {
  /** Compose project name; tests use `cdbt` + random suffix. Lowercase a-z0-9_- only. */
  project: string;
  /** Replaces the default services; a service without `image` gets the busybox test image. */
  services?: ComposeServices;
  /** Extra top-level keys (volumes, networks) merged into the compose file. */
  extra?: Record<string, unknown>;
}

export interface PublishedPort {
  containerPort: string; // e.g. "8080/tcp"
  hostIp: string;
  hostPort: number;
}

export interface StackContainer {
  id: string;
  name: string;
  service: string;
  status: string; // running | restarting | exited | created | ...
  running: boolean;
  restarting: boolean;
  restartCount: number;
  exitCode: number;
  health: string | null; // starting | healthy | unhealthy | null (no healthcheck)
  ports: PublishedPort[];
}

export interface ComposeStack {
  project: string;
  dir: string;
  file: string;
  /** Runs `docker-compose` with `-p project -f file` prepended. */
  compose(args: readonly string[]): Promise<string>;
  /** All containers of the project (via docker inspect). */
  ps(): Promise<StackContainer[]>;
  /** The first container of a service; throws if there is none. */
  container(service: string): Promise<StackContainer>;
  /** Host address a service's container port is published on. */
  hostPort(service: string, containerPort: number, proto?: 'tcp' | 'udp'): Promise<{ host: string; port: number }>;
  /** `down -v --remove-orphans`, then removes the temp dir. Safe to call twice. */
  down(): Promise<void>;
}

export function randomSuffix(bytes = 4): string {
  return randomBytes(bytes).toString('hex');
}

export function defaultServices(image: string): ComposeServices {
  return {
    web: {
      image,
      command: ['sh', '-c', 'mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www'],
      ports: ['127.0.0.1::8080'],
      restart: 'unless-stopped',
      healthcheck: {
        test: ['CMD-SHELL', 'wget -q -O- http://127.0.0.1:8080/ || exit 1'],
        interval: '1s',
        timeout: '3s',
        retries: 30,
      },
    },
    crashloop: {
      image,
      command: ['sh', '-c', 'echo boom; exit 1'],
      restart: 'always',
    },
    exposed: {
      image,
      command: ['httpd', '-f', '-p', '9000', '-h', '/tmp'],
      ports: ['0.0.0.0::9000'],
      restart: 'unless-stopped',
    },
  };
}

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Named in the timeout error: "timed out after 60000 ms waiting for <what>". */
  what: string;
}

/**
 * Polls `predicate` until it returns a truthy value (which is returned).
 * Errors thrown by the predicate count as "not yet"; the last one is quoted
 * in the timeout error.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  { timeoutMs = 60_000, intervalMs = 250, what }: WaitForOptions,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const last = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

interface InspectedContainer {
  Id: string;
  Name: string;
  State: {
    Status: string;
    Running: boolean;
    Restarting: boolean;
    ExitCode: number;
    Health?: { Status: string } | null;
  };
  RestartCount: number;
  Config: { Labels: Record<string, string> | null };
  NetworkSettings: { Ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> | null };
}

function toStackContainer(c: InspectedContainer): StackContainer {
  const ports: PublishedPort[] = [];
  for (const [containerPort, bindings] of Object.entries(c.NetworkSettings.Ports ?? {})) {
    for (const b of bindings ?? []) {
      ports.push({ containerPort, hostIp: b.HostIp, hostPort: Number(b.HostPort) });
    }
  }
  return {
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    service: c.Config.Labels?.['com.docker.compose.service'] ?? '',
    status: c.State.Status,
    running: c.State.Running,
    restarting: c.State.Restarting,
    restartCount: c.RestartCount,
    exitCode: c.State.ExitCode,
    health: c.State.Health?.Status ?? null,
    ports,
  };
}

/** Inspects every container (any state) labelled with the compose project. */
export async function projectContainers(project: string): Promise<StackContainer[]> {
  const { stdout } = await runCommand('docker', [
    'ps', '-a', '-q', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`,
  ]);
  const ids = stdout.split('\n').map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) return [];
  let parsed: unknown;
  try {
    const { stdout: json } = await runCommand('docker', ['inspect', ...ids]);
    parsed = JSON.parse(json);
  } catch {
    // A container can vanish between ps and inspect (restart/down); retry once per id.
    const all: StackContainer[] = [];
    for (const id of ids) {
      try {
        const { stdout: json } = await runCommand('docker', ['inspect', id]);
        all.push(...(JSON.parse(json) as InspectedContainer[]).map(toStackContainer));
      } catch {
        /* gone */
      }
    }
    return all;
  }
  return (parsed as InspectedContainer[]).map(toStackContainer);
}

export async function startComposeStack(opts: StartComposeStackOptions): Promise<ComposeStack> {
  const { project } = opts;
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(project)) {
    throw new Error(`compose project name must match [a-z0-9][a-z0-9_-]*: ${project}`);
  }
  const images = await ensureTestImages();
  const services: ComposeServices = {};
  for (const [name, svc] of Object.entries(opts.services ?? defaultServices(images.busybox))) {
    services[name] = { image: images.busybox, ...svc };
  }
  const dir = await mkdtemp(join(tmpdir(), `cdb-compose-${project}-`));
  const file = join(dir, 'docker-compose.yml');
  await writeFile(file, stringify({ version: '2.4', services, ...(opts.extra ?? {}) }, { version: '1.1' }));

  const compose = async (args: readonly string[]): Promise<string> => {
    const { stdout, stderr } = await runCommand('docker-compose', ['-p', project, '-f', file, ...args], {
      cwd: dir,
      env: { ...process.env, COMPOSE_INTERACTIVE_NO_CLI: '1', COMPOSE_PROJECT_NAME: project },
    });
    return stdout + stderr;
  };

  let downed = false;
  const down = async (): Promise<void> => {
    if (downed) return;
    downed = true;
    try {
      await compose(['down', '-v', '--remove-orphans', '-t', '1']);
    } finally {
      // Belt and braces: anything compose missed (e.g. file already broken).
      const leftovers = await projectContainers(project).catch((): StackContainer[] => []);
      if (leftovers.length > 0) {
        await runCommand('docker', ['rm', '-f', '-v', ...leftovers.map((c) => c.id)]).catch(() => undefined);
      }
      await rm(dir, { recursive: true, force: true });
    }
  };

  const ps = (): Promise<StackContainer[]> => projectContainers(project);

  const container = async (service: string): Promise<StackContainer> => {
    const found = (await ps()).find((c) => c.service === service);
    if (!found) throw new Error(`no container for service ${service} in project ${project}`);
    return found;
  };

  const hostPort = async (
    service: string,
    containerPort: number,
    proto: 'tcp' | 'udp' = 'tcp',
  ): Promise<{ host: string; port: number }> => {
    const c = await container(service);
    const p = c.ports.find((x) => x.containerPort === `${containerPort}/${proto}`);
    if (!p) throw new Error(`${service} does not publish ${containerPort}/${proto}`);
    return { host: p.hostIp === '0.0.0.0' || p.hostIp === '' ? '127.0.0.1' : p.hostIp, port: p.hostPort };
  };

  try {
    await compose(['up', '-d', '--remove-orphans']);
  } catch (err) {
    await down().catch(() => undefined);
    throw err;
  }
  return { project, dir, file, compose, ps, container, hostPort, down };
}
