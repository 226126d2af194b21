// Hand-built doctor snapshots for unit tests: a hardened container by default, broken on request.
//
//   const snap = snapshot({ containers: [container({ user: '' })] });
//   expect(runAsRoot.run(snap)).toHaveLength(1);
import { buildConfig } from '../../src/shared/config/load.ts';
import type { ComposeModel, ComposeService } from '../../src/host/compose/model.ts';
import type { ContainerView, DoctorConfig, Snapshot } from '../../src/features/doctor/types.ts';

export function doctorConfig(doctor: Record<string, unknown> = {}): DoctorConfig {
  return buildConfig({ stack: { project: 'cdb' }, doctor }, {}).doctor;
}

type ContainerOverrides = Partial<Omit<ContainerView, 'host' | 'state'>> & {
  host?: Partial<ContainerView['host']>;
  state?: Partial<ContainerView['state']>;
};

let seq = 0;

/** A container that passes every hardening rule, as the seeds' good services are configured. */
export function container(o: ContainerOverrides = {}): ContainerView {
  seq++;
  const service = o.service ?? `svc${seq}`;
  const { host, state, ...rest } = o;
  return {
    id: `${'a'.repeat(56)}${String(seq).padStart(8, '0')}`,
    name: `cdb_${service}_1`,
    service,
    oneOff: false,
    image: 'cdb/app:1',
    imageId: 'sha256:1111111111111111111111111111111111111111111111111111111111111111',
    labels: { 'com.docker.compose.project': 'cdb', 'com.docker.compose.service': service },
    restartCount: 0,
    user: '1000:1000',
    env: [{ name: 'PATH', value: '/usr/bin' }, { name: 'DB_PASSWORD_FILE', value: '/run/secrets/db_password' }],
    argv: ['app', 'serve'],
    healthcheck: ['CMD', 'true'],
    ports: [{ containerPort: 8080, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 18080 }],
    mounts: [],
    networks: [{ name: 'cdb_default', id: 'net-default' }],
    ...rest,
    state: { status: 'running', running: true, restarting: false, exitCode: 0, oomKilled: false, error: '', health: { status: 'healthy', failingStreak: 0 }, ...state },
    host: {
      privileged: false,
      readonlyRootfs: true,
      capAdd: [],
      capDrop: ['ALL'],
      securityOpt: ['no-new-privileges:true'],
      networkMode: 'cdb_default',
      pidMode: '',
      ipcMode: 'private',
      utsMode: '',
      memory: 64 * 1024 * 1024,
      pidsLimit: 100,
      restartPolicy: 'unless-stopped',
      logDriver: 'json-file',
      logOptions: { 'max-size': '10m', 'max-file': '5' },
      ...host,
    },
  };
}

export function composeService(o: Partial<ComposeService> = {}): ComposeService {
  return { build: false, profiles: [], ports: [], environment: {}, networks: ['default'], secrets: [], volumes: [], ...o };
}

export function compose(services: Record<string, Partial<ComposeService>>, extra: Partial<Omit<ComposeModel, 'services'>> = {}): ComposeModel {
  return {
    files: ['/srv/cdb/docker-compose.yml'],
    services: Object.fromEntries(Object.entries(services).map(([k, v]) => [k, composeService(v)])),
    volumes: {},
    networks: { default: { name: 'cdb_default', external: false, internal: false } },
    secrets: {},
    ...extra,
  };
}

export function snapshot(o: Partial<Snapshot> & { doctorConfig?: Record<string, unknown> } = {}): Snapshot {
  const { doctorConfig: dc, ...rest } = o;
  return {
    project: 'cdb',
    doctor: doctorConfig(dc),
    containers: [],
    otherContainers: [],
    volumes: [],
    networks: [{ id: 'net-default', name: 'cdb_default', internal: false, labels: { 'com.docker.compose.project': 'cdb', 'com.docker.compose.network': 'default' } }],
    images: new Map(),
    files: new Map(),
    ...rest,
  };
}
