import { describe, expect, it } from 'vitest';
import { CHECK_IDS, CHECKS } from '../../src/shared/contracts/doctor.ts';
import { ALL_CHECKS, checksFor } from '../../src/features/doctor/checks/index.ts';
import { runAsRoot } from '../../src/features/doctor/checks/run-as-root.ts';
import { privileged } from '../../src/features/doctor/checks/privileged.ts';
import { capabilities } from '../../src/features/doctor/checks/capabilities.ts';
import { noNewPrivileges } from '../../src/features/doctor/checks/no-new-privileges.ts';
import { hostNamespaces } from '../../src/features/doctor/checks/host-namespaces.ts';
import { dockerSocket } from '../../src/features/doctor/checks/docker-socket.ts';
import { rootfsWritable } from '../../src/features/doctor/checks/rootfs-writable.ts';
import { memoryLimit } from '../../src/features/doctor/checks/memory-limit.ts';
import { pidsLimit } from '../../src/features/doctor/checks/pids-limit.ts';
import { healthcheck } from '../../src/features/doctor/checks/healthcheck.ts';
import { restartPolicy } from '../../src/features/doctor/checks/restart-policy.ts';
import { logLimits } from '../../src/features/doctor/checks/log-limits.ts';
import { normalizeImage } from '../../src/features/doctor/checks/util.ts';
import type { Check } from '../../src/features/doctor/types.ts';
import { container, snapshot } from '../support/doctor-fixtures.ts';

const good = () => snapshot({ containers: [container({ service: 'good' })] });
const bad = (o: Parameters<typeof container>[0]) => snapshot({ containers: [container({ service: 'bad', ...o })] });

function expectPass(check: Check): void {
  expect(check.run(good())).toEqual([]);
  expect(check.passDetail?.(good())).toMatch(/1 container/);
}

describe('the check registry', () => {
  it('implements exactly the published checks, each under its own id, in report order', () => {
    expect(ALL_CHECKS.map((c) => c.id)).toEqual(CHECK_IDS);
    expect(new Set(CHECK_IDS).size).toBe(CHECKS.length);
    expect(checksFor(['log-limits', 'privileged']).map((c) => c.id)).toEqual(['privileged', 'log-limits']);
    expect(checksFor(undefined)).toHaveLength(CHECKS.length);
  });
});

describe('hardening checks (hardening guide, CIS Docker Benchmark 5.x)', () => {
  it('run-as-root: empty, 0 and root users fail; 1000:1000 passes', () => {
    expectPass(runAsRoot);
    for (const user of ['', '0', 'root', 'root:root', '0:0']) {
      const [issue] = runAsRoot.run(bad({ user }));
      expect(issue).toMatchObject({ severity: 'high', name: 'cdb_bad_1', service: 'bad' });
      expect(issue?.fix).toContain('user: "1000:1000"');
    }
    expect(runAsRoot.run(bad({ user: 'app' }))).toEqual([]);
  });

  it('privileged: critical', () => {
    expectPass(privileged);
    expect(privileged.run(bad({ host: { privileged: true } }))[0]).toMatchObject({ severity: 'critical', evidence: 'HostConfig.Privileged=true' });
  });

  it('capabilities: dangerous cap_add is high, missing cap_drop ALL is medium as root and low otherwise', () => {
    expectPass(capabilities);
    expect(capabilities.run(bad({ host: { capAdd: ['CAP_SYS_ADMIN', 'NET_BIND_SERVICE'] } }))).toMatchObject([{ severity: 'high', detail: expect.stringContaining('SYS_ADMIN') }]);
    expect(capabilities.run(bad({ host: { capAdd: ['NET_BIND_SERVICE'] } }))).toEqual([]);
    expect(capabilities.run(bad({ host: { capDrop: [] }, user: 'root' }))).toMatchObject([{ severity: 'medium' }]);
    expect(capabilities.run(bad({ host: { capDrop: ['NET_RAW'] } }))).toMatchObject([{ severity: 'low' }]);
    expect(capabilities.run(bad({ host: { capDrop: ['all'] } }))).toEqual([]);
  });

  it('no-new-privileges: accepts the three spellings', () => {
    expectPass(noNewPrivileges);
    expect(noNewPrivileges.run(bad({ host: { securityOpt: [] } }))).toMatchObject([{ severity: 'medium' }]);
    expect(noNewPrivileges.run(bad({ host: { securityOpt: ['seccomp=unconfined'] } }))).toHaveLength(1);
    for (const opt of ['no-new-privileges', 'no-new-privileges=true', 'no-new-privileges:true']) {
      expect(noNewPrivileges.run(bad({ host: { securityOpt: [opt] } }))).toEqual([]);
    }
  });

  it('host-namespaces: network/pid are high, ipc/uts medium, listed together', () => {
    expectPass(hostNamespaces);
    expect(hostNamespaces.run(bad({ host: { ipcMode: 'host' } }))).toMatchObject([{ severity: 'medium', fix: expect.stringContaining('ipc: host') }]);
    const [issue] = hostNamespaces.run(bad({ host: { networkMode: 'host', pidMode: 'host' } }));
    expect(issue?.severity).toBe('high');
    expect(issue?.detail).toMatch(/network .*PID/);
  });

  it('docker-socket: the mount is critical even read-only', () => {
    expectPass(dockerSocket);
    const [issue] = dockerSocket.run(bad({ mounts: [{ type: 'bind', source: '/var/run/docker.sock', destination: '/var/run/docker.sock', rw: false }] }));
    expect(issue).toMatchObject({ severity: 'critical', detail: expect.stringContaining('read-only, which does not help') });
    expect(dockerSocket.run(bad({ mounts: [{ type: 'bind', source: '/run/docker.sock', destination: '/docker.sock', rw: true }] }))).toHaveLength(1);
    expect(dockerSocket.run(bad({ mounts: [{ type: 'bind', source: '/srv/data', destination: '/data', rw: true }] }))).toEqual([]);
  });

  it('rootfs-writable, memory-limit, pids-limit, healthcheck, restart-policy', () => {
    for (const check of [rootfsWritable, memoryLimit, pidsLimit, healthcheck, restartPolicy]) expectPass(check);
    expect(rootfsWritable.run(bad({ host: { readonlyRootfs: false } }))).toMatchObject([{ severity: 'medium', fix: expect.stringContaining('read_only: true') }]);
    expect(memoryLimit.run(bad({ host: { memory: 0 } }))).toMatchObject([{ severity: 'medium' }]);
    for (const pids of [null, 0, -1]) expect(pidsLimit.run(bad({ host: { pidsLimit: pids } }))).toHaveLength(1);
    expect(healthcheck.run(bad({ healthcheck: undefined }))).toHaveLength(1);
    expect(healthcheck.run(bad({ healthcheck: ['NONE'] }))[0]?.detail).toContain('disabled');
    for (const policy of ['', 'no']) expect(restartPolicy.run(bad({ host: { restartPolicy: policy } }))).toHaveLength(1);
    for (const policy of ['always', 'on-failure', 'unless-stopped']) expect(restartPolicy.run(bad({ host: { restartPolicy: policy } }))).toEqual([]);
  });

  it('log-limits: json-file needs max-size (and max-file); local and shipping drivers are bounded', () => {
    expectPass(logLimits);
    expect(logLimits.run(bad({ host: { logOptions: {} } }))).toMatchObject([{ severity: 'medium', fix: expect.stringContaining('max-size: "10m"') }]);
    expect(logLimits.run(bad({ host: { logOptions: { 'max-size': '10m' } } }))).toMatchObject([{ severity: 'low' }]);
    expect(logLimits.run(bad({ host: { logDriver: 'none', logOptions: {} } }))).toMatchObject([{ severity: 'low' }]);
    for (const driver of ['local', 'journald', 'fluentd', 'loki']) expect(logLimits.run(bad({ host: { logDriver: driver, logOptions: {} } }))).toEqual([]);
  });
});

describe('image names', () => {
  it('normalizes short names so equal images compare equal', () => {
    expect(normalizeImage('postgres')).toBe('docker.io/library/postgres:latest');
    expect(normalizeImage('postgres:16')).toBe('docker.io/library/postgres:16');
    expect(normalizeImage('grafana/grafana:10')).toBe('docker.io/grafana/grafana:10');
    expect(normalizeImage('localhost:5000/app')).toBe('localhost:5000/app:latest');
    expect(normalizeImage('ghcr.io/x/y:1@sha256:abc')).toBe('ghcr.io/x/y:1');
  });
});
