import { describe, expect, it } from 'vitest';
import { orphanContainers } from '../../src/features/doctor/checks/orphan-containers.ts';
import { orphanVolumes } from '../../src/features/doctor/checks/orphan-volumes.ts';
import { portExposure } from '../../src/features/doctor/checks/port-exposure.ts';
import { portConflicts } from '../../src/features/doctor/checks/port-conflicts.ts';
import { secretFiles } from '../../src/features/doctor/checks/secret-files.ts';
import { passwordContract } from '../../src/features/doctor/checks/password-contract.ts';
import { networkIntegrity } from '../../src/features/doctor/checks/network-integrity.ts';
import { composeDrift } from '../../src/features/doctor/checks/compose-drift.ts';
import { containerHealth } from '../../src/features/doctor/checks/container-health.ts';
import { secretRefs } from '../../src/features/doctor/secrets.ts';
import type { FileFacts } from '../../src/features/doctor/types.ts';
import { compose, container, snapshot } from '../support/doctor-fixtures.ts';

const exited = { status: 'exited', running: false, health: undefined } as const;

describe('orphan-containers (stack doctor 1)', () => {
  it('flags containers of undeclared services: stopped ones as safe to remove, running ones not', () => {
    const snap = snapshot({
      compose: compose({ web: {} }),
      containers: [container({ service: 'web' }), container({ service: 'old', state: { ...exited, exitCode: 0 } }), container({ service: 'stray' })],
    });
    const issues = orphanContainers.run(snap);
    expect(issues.map((i) => [i.service, i.severity, i.autofix?.kind])).toEqual([
      ['old', 'low', 'remove-container'],
      ['stray', 'medium', 'remove-running-container'],
    ]);
    expect(issues[0]?.fix).toBe('docker rm cdb_old_1');
  });

  it('passes when every service is declared, and cannot tell without compose files', () => {
    expect(orphanContainers.run(snapshot({ compose: compose({ web: {} }), containers: [container({ service: 'web' })] }))).toEqual([]);
    const [issue] = orphanContainers.run(snapshot({ composeProblem: 'no compose files: set stack.composeFiles', containers: [container()] }));
    expect(issue).toMatchObject({ severity: 'medium', target: 'stack', detail: expect.stringContaining('cannot tell') });
  });
});

describe('orphan-volumes (stack doctor 2)', () => {
  const vol = (name: string, key: string) => ({ name, labels: { 'com.docker.compose.project': 'cdb', 'com.docker.compose.volume': key } });

  it('flags undeclared project volumes (removal needs approval) and says who still mounts them', () => {
    const c = container({ service: 'db', mounts: [{ type: 'volume', name: 'cdb_old', source: '/var/lib/docker/volumes/cdb_old/_data', destination: '/data', rw: true }] });
    const snap = snapshot({ compose: compose({ db: {} }, { volumes: { data: { name: 'cdb_data', external: false } } }), volumes: [vol('cdb_data', 'data'), vol('cdb_old', 'old')], containers: [c] });
    const issues = orphanVolumes.run(snap);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ target: 'volume', name: 'cdb_old', autofix: { kind: 'remove-volume' }, detail: expect.stringContaining('still mounted by cdb_db_1') });
  });

  it('passes declared volumes, including ones with an explicit name', () => {
    const snap = snapshot({ compose: compose({}, { volumes: { data: { name: 'shared-data', external: false } } }), volumes: [vol('shared-data', '')] });
    expect(orphanVolumes.run(snap)).toEqual([]);
  });
});

describe('port-exposure (criterion B: 127.0.0.1 only)', () => {
  it('flags 0.0.0.0, :: and empty host addresses, with the 127.0.0.1 form as the fix', () => {
    const c = container({ service: 'grafana', ports: [{ containerPort: 3000, proto: 'tcp', hostIp: '0.0.0.0', hostPort: 3000 }, { containerPort: 9000, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 9000 }] });
    const [issue] = portExposure.run(snapshot({ containers: [c] }));
    expect(issue).toMatchObject({ severity: 'high', service: 'grafana' });
    expect(issue?.detail).toContain('0.0.0.0:3000->3000/tcp');
    expect(issue?.detail).not.toContain('9000');
    expect(issue?.fix).toContain('"127.0.0.1:3000:3000"');
    for (const hostIp of ['', '::']) expect(portExposure.run(snapshot({ containers: [container({ ports: [{ containerPort: 80, proto: 'tcp', hostIp, hostPort: 0 }] })] }))).toHaveLength(1);
  });

  it('also flags declared services that are not running, and passes loopback bindings', () => {
    const snap = snapshot({ compose: compose({ ws: { ports: [{ containerPort: 8000, proto: 'tcp', hostIp: '', hostPort: 8000 }] } }) });
    expect(portExposure.run(snap)[0]?.detail).toContain('not running now');
    expect(portExposure.run(snapshot({ containers: [container()] }))).toEqual([]);
  });
});

describe('port-conflicts (stack doctor 3)', () => {
  it('reports the daemon\'s "port is already allocated" and who holds a port a stopped container wants', () => {
    const stopped = container({ service: 'api', state: { ...exited, exitCode: 128, error: 'driver failed programming external connectivity: Bind for 127.0.0.1:18080 failed: port is already allocated' } });
    const wants = container({ service: 'ws', state: { status: 'created', running: false, health: undefined }, ports: [{ containerPort: 80, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 8000 }] });
    const other = { id: 'x', name: 'someone-else', ports: [{ containerPort: 8000, proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8000 }] };
    const issues = portConflicts.run(snapshot({ containers: [stopped, wants], otherContainers: [other] }));
    expect(issues.map((i) => i.service)).toEqual(['api', 'ws']);
    expect(issues[0]?.detail).toContain('port is already allocated');
    expect(issues[1]?.detail).toContain('someone-else already publishes');
  });

  it('reports two declared services on one host port, and a declared one whose port is taken', () => {
    const p = (hostPort: number, hostIp = '127.0.0.1') => ({ containerPort: 80, proto: 'tcp', hostIp, hostPort });
    const snap = snapshot({
      compose: compose({ a: { ports: [p(9000)] }, b: { ports: [p(9000, '')] }, c: { ports: [p(9100)] } }),
      containers: [container({ service: 'a', ports: [p(9000)] })],
      otherContainers: [{ id: 'o', name: 'squatter', ports: [p(9100)] }],
    });
    const details = portConflicts.run(snap).map((i) => `${i.service}: ${i.detail}`);
    expect(details).toEqual(expect.arrayContaining([expect.stringMatching(/^a: and b both declare host port 9000/), expect.stringMatching(/^b: .*cdb_a_1 already publishes/), expect.stringMatching(/^c: .*squatter already publishes/)]));
  });

  it('passes distinct ports, and the same port on different addresses', () => {
    const snap = snapshot({
      containers: [container({ ports: [{ containerPort: 80, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 80 }] })],
      otherContainers: [{ id: 'o', name: 'o', ports: [{ containerPort: 80, proto: 'tcp', hostIp: '10.0.0.5', hostPort: 80 }] }],
    });
    expect(portConflicts.run(snap)).toEqual([]);
  });
});

describe('secret-files (stack doctor 4)', () => {
  const mount = (name: string, source: string) => ({ type: 'bind', source, destination: `/run/secrets/${name}`, rw: false });
  const files = (entries: Record<string, FileFacts>) => new Map(Object.entries(entries));

  it('finds secrets from /run/secrets bind mounts and compose secret files, deduplicated by path', () => {
    const c = container({ service: 'grafana', mounts: [mount('grafana_password', '/s/grafana_password'), { type: 'bind', source: '/srv/conf', destination: '/etc/app', rw: false }] });
    const model = compose({ grafana: { secrets: ['grafana_password'] }, db: { secrets: ['db_password'] } }, { secrets: { grafana_password: { file: '/s/grafana_password', external: false }, db_password: { file: '/s/db_password', external: false } } });
    expect(secretRefs([c], model)).toEqual([
      { name: 'db_password', path: '/s/db_password', services: ['db'] },
      { name: 'grafana_password', path: '/s/grafana_password', services: ['grafana'] },
    ]);
  });

  it('fails a directory (the Grafana outage), a missing file, a world-readable one and an empty required one', () => {
    const c = container({ service: 'app', mounts: [mount('grafana_password', '/s/g'), mount('redis_password', '/s/r'), mount('api_key', '/s/k'), mount('postgres_password', '/s/p'), mount('wide', '/s/w'), mount('gone', '/s/gone'), mount('odd', '/s/odd')] });
    const snap = snapshot({
      doctorConfig: { requiredSecrets: ['redis_password'] },
      containers: [c],
      files: files({
        '/s/g': { kind: 'directory', mode: 0o755, size: 4096 },
        '/s/r': { kind: 'file', mode: 0o600, size: 0 },
        '/s/k': { kind: 'file', mode: 0o644, size: 24 },
        '/s/p': { kind: 'file', mode: 0o600, size: 0 },
        '/s/w': { kind: 'file', mode: 0o660, size: 3 },
        '/s/gone': { kind: 'missing' },
        '/s/odd': { kind: 'unknown', error: 'EACCES while reading /s/odd' },
      }),
    });
    const byName = Object.fromEntries(secretFiles.run(snap).map((i) => [i.name, i]));
    expect(byName['/s/g']).toMatchObject({ severity: 'critical', target: 'file', detail: expect.stringContaining('is a directory') });
    expect(byName['/s/gone']).toMatchObject({ severity: 'critical', detail: expect.stringContaining('does not exist') });
    expect(byName['/s/r']).toMatchObject({ severity: 'high', detail: expect.stringContaining('empty') });
    expect(byName['/s/k']).toMatchObject({ severity: 'high', detail: expect.stringContaining('mode 0644') });
    expect(byName['/s/w']).toMatchObject({ severity: 'medium', detail: expect.stringContaining('wider than 0640') });
    expect(byName['/s/odd']).toMatchObject({ severity: 'medium', detail: expect.stringContaining('EACCES') });
    // Empty but not required: the seeds' postgres_password (existing database) is fine.
    expect(byName['/s/p']).toBeUndefined();
  });

  it('passes 0600 and 0640 regular files', () => {
    const c = container({ mounts: [mount('a', '/s/a'), mount('b', '/s/b')] });
    const snap = snapshot({ containers: [c], files: files({ '/s/a': { kind: 'file', mode: 0o600, size: 9 }, '/s/b': { kind: 'file', mode: 0o640, size: 9 } }) });
    expect(secretFiles.run(snap)).toEqual([]);
    expect(secretFiles.passDetail?.(snap)).toContain('2 secret files');
  });
});

describe('password-contract (stack doctor 5)', () => {
  const env = (vars: Record<string, string>) => Object.entries(vars).map(([name, value]) => ({ name, value }));

  it('fails X and X_FILE together, plaintext secrets, passwords in URLs and on the command line: names only', () => {
    const c = container({
      service: 'db',
      env: env({ POSTGRES_PASSWORD: 's3cret-value', POSTGRES_PASSWORD_FILE: '/run/secrets/pg', FOO_PASSWORD: 'hunter2', API_TOKEN: 'tok-123', DATABASE_URL: 'postgres://u:pw-in-url@db/x' }),
      argv: ['redis-server', '--requirepass', 'hunter3'],
    });
    const issues = passwordContract.run(snapshot({ containers: [c] }));
    expect(issues.map((i) => i.severity)).toEqual(['critical', 'high', 'high', 'high']);
    expect(issues[0]?.detail).toContain('POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE');
    expect(issues[1]?.detail).toMatch(/FOO_PASSWORD, API_TOKEN/);
    expect(issues[1]?.detail).not.toContain('POSTGRES_PASSWORD,');
    expect(issues[2]?.detail).toContain('DATABASE_URL');
    expect(issues[3]?.detail).toContain('--requirepass');
    const text = JSON.stringify(issues);
    for (const secret of ['s3cret-value', 'hunter2', 'tok-123', 'pw-in-url', 'hunter3']) expect(text).not.toContain(secret);
  });

  it('passes *_FILE variables, empty values, secret-file paths and public keys', () => {
    const c = container({ env: env({ REDIS_PASSWORD_FILE: '/run/secrets/redis', GRAFANA_PASSWORD: '', API_KEY: '/run/secrets/api_key', GPG_KEY: 'ABCDEF', SSH_PUBLIC_KEY: 'ssh-ed25519 AAAA' }), argv: ['sh', '-c', 'redis-server --requirepass "$(cat /run/secrets/redis)"'] });
    expect(passwordContract.run(snapshot({ containers: [c] }))).toEqual([]);
  });

  it('checks the environment of declared services that are not running', () => {
    const snap = snapshot({ compose: compose({ redis: { environment: { REDIS_PASSWORD: 'x', OTHER: null } } }) });
    expect(passwordContract.run(snap)).toMatchObject([{ name: 'redis', detail: expect.stringContaining('(declared, not running)') }]);
  });
});

describe('network-integrity (stack doctor 6)', () => {
  const net = (name: string, internal: boolean, key?: string) => ({ id: `id-${name}`, name, internal, labels: key ? { 'com.docker.compose.project': 'cdb', 'com.docker.compose.network': key } : ({} as Record<string, string>) });

  it('fails missing expected networks, non-internal ones in production, and containers on removed networks', () => {
    const snap = snapshot({
      doctorConfig: { production: true, expectedNetworks: ['cdb_backend', 'cdb_missing'], egressNetworks: ['edge'] },
      compose: compose({}, { networks: { backend: { name: 'cdb_backend', external: false, internal: true }, edge: { name: 'cdb_edge', external: false, internal: false }, shared: { name: 'shared', external: true, internal: false } } }),
      networks: [net('cdb_backend', true, 'backend'), net('cdb_edge', false, 'edge'), net('cdb_default', false, 'default')],
      containers: [container({ service: 'api', networks: [{ name: 'cdb_old', id: 'id-gone' }] })],
    });
    const issues = networkIntegrity.run(snap).map((i) => `${i.name}: ${i.detail}`);
    expect(issues).toEqual(expect.arrayContaining([
      expect.stringMatching(/^cdb_missing: does not exist/),
      expect.stringMatching(/^shared: does not exist \(external/),
      expect.stringMatching(/^cdb_default: is not internal/),
      expect.stringMatching(/^cdb_old: cdb_api_1 is attached to network cdb_old, which was removed/),
    ]));
    expect(issues.join('\n')).not.toMatch(/cdb_edge|cdb_backend/);
  });

  it('passes when networks exist, and ignores internal-ness outside production', () => {
    const snap = snapshot({ compose: compose({}), containers: [container()] });
    expect(networkIntegrity.run(snap)).toEqual([]);
  });
});

describe('compose-drift (stack doctor 7)', () => {
  it('fails declared services without containers, and reports what differs from the files (no values)', () => {
    const web = container({ service: 'web', image: 'cdb/web:1', env: [{ name: 'A', value: 'x' }] });
    const snap = snapshot({
      compose: compose({ web: { image: 'cdb/web:2', environment: { A: 'x', B: 'value-of-b' }, readOnly: false }, ghost: {}, later: { profiles: ['tools'] } }),
      containers: [web],
      images: new Map([['cdb/web:1', 'sha256:2222222222222222222222222222222222222222222222222222222222222222']]),
    });
    const issues = composeDrift.run(snap);
    const text = issues.map((i) => `${i.service}: ${i.detail}`).join('\n');
    expect(text).toMatch(/ghost: is declared in the compose files but has no container/);
    expect(text).toMatch(/web: differs from the compose files: image cdb\/web:1 \(compose: cdb\/web:2\); read_only true \(compose: false\); environment lacks B/);
    expect(text).toMatch(/web: runs an older build/);
    expect(text).not.toMatch(/later/);
    expect(text).not.toContain('value-of-b');
  });

  it('passes a container that matches its service', () => {
    const snap = snapshot({ compose: compose({ web: { image: 'cdb/app:1', user: '1000:1000', ports: [{ containerPort: 8080, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 18080 }] } }), containers: [container({ service: 'web' })] });
    expect(composeDrift.run(snap)).toEqual([]);
  });
});

describe('container-health (stack doctor 8)', () => {
  it('fails restarting, crashed (with OOM), unhealthy and rising restart counts', () => {
    const loop = container({ service: 'grafana', restartCount: 7, state: { status: 'restarting', running: true, restarting: true, exitCode: 1 } });
    const oom = container({ service: 'worker', state: { ...exited, exitCode: 137, oomKilled: true } });
    const sick = container({ service: 'api', state: { health: { status: 'unhealthy', failingStreak: 4, lastExitCode: 1 } } });
    const rising = container({ service: 'ws', restartCount: 3 });
    const snap = snapshot({ containers: [loop, oom, sick, rising], previousRestarts: { [rising.id]: 1, [loop.id]: 7 } });
    const text = containerHealth.run(snap).map((i) => `${i.service} ${i.severity}: ${i.detail}`);
    expect(containerHealth.run(snap).find((i) => i.service === 'api')?.runbook).toBe('health-check-failing');
    expect(text).toEqual([
      'grafana high: is restarting in a loop (7 restarts, last exit code 1)',
      'worker high: exited with code 137: killed by the out-of-memory killer (raise mem_limit or find the leak)',
      'api high: is unhealthy: its healthcheck failed 4 times in a row (last exit code 1)',
      'ws high: restart count rose from 1 to 3 since the last scheduled check',
    ]);
  });

  it('notes past restarts as low, and passes healthy containers and clean exits', () => {
    expect(containerHealth.run(snapshot({ containers: [container({ restartCount: 2 })] }))).toMatchObject([{ severity: 'low' }]);
    expect(containerHealth.run(snapshot({ containers: [container(), container({ state: { ...exited, exitCode: 0 } })] }))).toEqual([]);
  });
});
