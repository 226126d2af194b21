import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { buildConfig } from '../../src/shared/config/load.ts';
import { doctorExitCode } from '../../src/shared/contracts/doctor.ts';
import { localFiles } from '../../src/host/host-files.ts';
import { runDoctor } from '../../src/features/doctor/run-doctor.ts';

// A stand-in Docker Engine API on a unix socket: answers, refuses, 404s or never answers, per route.
type Route = (req: IncomingMessage, res: ServerResponse) => void;

interface FakeEngine {
  readonly socket: string;
  readonly docker: Docker;
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

const hang: Route = () => undefined;
const json = (body: unknown, status = 200): Route => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

function listEntry(id: string, service: string) {
  return { Id: id, Names: [`/cdb_${service}_1`], Image: 'app:1', State: 'running', Labels: { 'com.docker.compose.project': 'cdb', 'com.docker.compose.service': service }, Ports: [] };
}

function inspectBody(id: string, service: string) {
  return {
    Id: id,
    Name: `/cdb_${service}_1`,
    Image: 'sha256:abc',
    RestartCount: 0,
    Config: { Image: 'app:1', User: '1000', Env: ['PATH=/bin'], Cmd: ['app'], Labels: { 'com.docker.compose.project': 'cdb', 'com.docker.compose.service': service }, Healthcheck: { Test: ['CMD', 'true'] } },
    State: { Status: 'running', Running: true, Restarting: false, ExitCode: 0, OOMKilled: false, Error: '', StartedAt: new Date().toISOString(), Health: { Status: 'healthy', FailingStreak: 0 } },
    HostConfig: { Privileged: false, ReadonlyRootfs: true, CapAdd: null, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges:true'], NetworkMode: 'cdb_default', PidMode: '', IpcMode: 'private', Memory: 1 << 26, PidsLimit: 50, RestartPolicy: { Name: 'always' }, LogConfig: { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } }, PortBindings: {} },
    NetworkSettings: { Ports: {}, Networks: { cdb_default: { NetworkID: 'n1' } } },
    Mounts: [],
  };
}

const servers: FakeEngine[] = [];

async function fakeEngine(routes: Record<string, Route>): Promise<FakeEngine> {
  const dir = await mkdtemp(join(tmpdir(), 'cdb-fake-engine-'));
  const socket = join(dir, 'docker.sock');
  const engine = { socket, docker: new Docker({ socketPath: socket }), inFlight: 0, maxInFlight: 0, close: async () => undefined } as FakeEngine;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]?.replace(/^\/v[\d.]+/, '') ?? '/';
    const key = Object.keys(routes).find((k) => new RegExp(`^${k}$`).test(path));
    engine.inFlight++;
    engine.maxInFlight = Math.max(engine.maxInFlight, engine.inFlight);
    res.on('close', () => engine.inFlight--);
    if (!key) return json({ message: `no route ${path}` }, 404)(req, res);
    (routes[key] as Route)(req, res);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  engine.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  };
  servers.push(engine);
  return engine;
}

function config(doctor: Record<string, unknown> = {}) {
  return buildConfig({ stack: { project: 'cdb' }, doctor: { timeoutSeconds: 1, ...doctor } }, {});
}

const lists = { '/volumes': json({ Volumes: [] }), '/networks': json([{ Id: 'n1', Name: 'cdb_default', Internal: false, Labels: { 'com.docker.compose.project': 'cdb' } }]), '/images/json': json([]) };

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

describe('doctor against a failing or odd Docker Engine', () => {
  it('reports a daemon that is down as one DOCKER_UNAVAILABLE line, exit code 1', async () => {
    const docker = new Docker({ socketPath: '/tmp/nonexistent-cdb-doctor.sock' });
    const { result } = await runDoctor({ docker, config: config(), files: localFiles() });
    expect(result.findings).toEqual([expect.objectContaining({ check: 'doctor', status: 'fail', severity: 'critical', target: 'stack', runbook: 'doctor' })]);
    expect(result.findings[0]?.detail).toMatch(/^DOCKER_UNAVAILABLE: The Docker Engine is not reachable \(ENOENT while trying to list containers\)/);
    expect(doctorExitCode(result)).toBe(1);
  });

  it('reports a daemon that never answers within doctor.timeoutSeconds, instead of hanging', async () => {
    const engine = await fakeEngine({ '/containers/json': hang });
    const { result } = await runDoctor({ docker: engine.docker, config: config(), files: localFiles() });
    expect(result.findings).toHaveLength(1);
    expect(result.findings[0]?.detail).toBe('DOCKER_UNAVAILABLE: The Docker Engine is too slow: it did not answer within 1 s while trying to list the containers. Check the host\'s load (doctor.timeoutSeconds sets the limit).');
  });

  it('reports a container that disappears between list and inspect, and checks the others', async () => {
    const engine = await fakeEngine({
      '/containers/json': json([listEntry('c1', 'web'), listEntry('c2', 'gone')]),
      '/containers/c1/json': json(inspectBody('c1', 'web')),
      '/containers/c2/json': json({ message: 'No such container: c2' }, 404),
      ...lists,
    });
    const { result } = await runDoctor({ docker: engine.docker, config: config(), files: localFiles(), checks: ['run-as-root', 'privileged'] });
    expect(result.counts.containers).toBe(1);
    expect(result.findings).toEqual([
      expect.objectContaining({ check: 'doctor', status: 'warn', target: 'container', name: 'cdb_gone_1', detail: expect.stringContaining('disappeared during the run') }),
      expect.objectContaining({ check: 'run-as-root', status: 'pass', detail: '1 container checked: all run as a non-root user' }),
      expect.objectContaining({ check: 'privileged', status: 'pass' }),
    ]);
  });

  it('reports an inspection that times out, and a listing that fails as "not checked", never as a pass', async () => {
    const engine = await fakeEngine({
      '/containers/json': json([listEntry('c1', 'web'), listEntry('c2', 'slow')]),
      '/containers/c1/json': json(inspectBody('c1', 'web')),
      '/containers/c2/json': hang,
      '/volumes': json({ message: 'boom' }, 500),
      '/networks': lists['/networks'],
      '/images/json': lists['/images/json'],
    });
    const { result } = await runDoctor({ docker: engine.docker, config: config({ allowDockerSocket: [] }), files: localFiles(), checks: ['orphan-volumes', 'memory-limit'] });
    const lines = result.findings.map((f) => `${f.check} ${f.status}: ${f.detail}`);
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringMatching(/^doctor warn: inspecting cdb_slow_1 took longer than 1 s; it was not checked/),
      expect.stringMatching(/^orphan-volumes warn: not checked: could not list volumes/),
      'memory-limit pass: 1 container checked: all have a memory limit',
    ]));
    expect(lines.some((l) => l.startsWith('orphan-volumes pass'))).toBe(false);
  });

  it('says so when the project has no containers, and fails', async () => {
    const engine = await fakeEngine({ '/containers/json': json([]), ...lists });
    const { result } = await runDoctor({ docker: engine.docker, config: config(), files: localFiles(), checks: ['healthcheck'] });
    expect(result.findings[0]).toMatchObject({ check: 'doctor', status: 'fail', detail: 'no containers found for compose project cdb: is the stack up, and is stack.project right?' });
    expect(result.findings[1]).toMatchObject({ check: 'healthcheck', status: 'pass', detail: '0 containers checked: all have a healthcheck' });
    expect(doctorExitCode(result)).toBe(1);
  });

  it('keeps at most doctor.concurrency inspections in flight', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `c${i}`);
    const slowInspect: Route = (req, res) => {
      const id = /containers\/([^/]+)\/json/.exec(req.url ?? '')?.[1] ?? '';
      setTimeout(() => json(inspectBody(id, id))(req, res), 30);
    };
    const engine = await fakeEngine({ '/containers/json': json(ids.map((id) => listEntry(id, id))), '/containers/[^/]+/json': slowInspect, ...lists });
    const { result } = await runDoctor({ docker: engine.docker, config: config({ concurrency: 3 }), files: localFiles(), checks: ['privileged'] });
    expect(result.counts.containers).toBe(12);
    expect(engine.maxInFlight).toBeLessThanOrEqual(3);
    expect(engine.maxInFlight).toBeGreaterThan(1);
  });
});
