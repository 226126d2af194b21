import { describe, expect, it } from 'vitest';
import { buildCreateSpec, createLinks, type ImageDefaults, type OldContainer } from '../../src/features/rollback/container-spec.ts';

const OLD_ID = 'a4c489591c72f00dbabe0123456789abcdef0123456789abcdef0123456789ab';

const oldImage: ImageDefaults = {
  Config: {
    Env: ['PATH=/usr/bin:/bin', 'APP_VERSION=v2'],
    Cmd: ['sh', '-c', 'serve'],
    Entrypoint: null,
    WorkingDir: '/app',
    User: '',
    Labels: { 'org.opencontainers.image.version': '2.0', shared: 'same' },
    Healthcheck: { Test: ['CMD-SHELL', 'wget -q localhost:8080'], Interval: 1e9 },
    ExposedPorts: { '8080/tcp': {}, '9090/tcp': {} },
    Volumes: { '/cache': {} },
  },
};

function container(over: Partial<OldContainer['Config']> = {}, host: Partial<OldContainer['HostConfig']> = {}): OldContainer {
  return {
    Id: OLD_ID,
    Name: '/proj_web_1',
    Config: {
      Hostname: OLD_ID.slice(0, 12),
      Domainname: '',
      User: 'app',
      Env: ['PATH=/usr/bin:/bin', 'APP_VERSION=v2', 'DATABASE_URL=postgres://db/app'],
      Cmd: ['sh', '-c', 'serve'],
      Image: 'myapp/web:2.0',
      Volumes: { '/cache': {}, '/data': {} },
      WorkingDir: '/app',
      Entrypoint: null,
      Labels: {
        'org.opencontainers.image.version': '2.0',
        shared: 'same',
        'com.docker.compose.project': 'proj',
        'com.docker.compose.service': 'web',
        'com.docker.compose.container-number': '1',
        'com.docker.compose.config-hash': 'abc123',
        traefik: 'on',
      },
      Healthcheck: { Test: ['CMD-SHELL', 'wget -q localhost:8080'], Interval: 1e9 },
      ExposedPorts: { '8080/tcp': {}, '9090/tcp': {}, '7000/tcp': {} },
      ...over,
    },
    HostConfig: {
      Binds: ['proj_pgdata:/var/lib/data:rw', '/etc/app:/etc/app:ro'],
      NetworkMode: 'proj_default',
      PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
      RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 },
      SecurityOpt: ['no-new-privileges:true'],
      CapDrop: ['ALL'],
      Memory: 268435456,
      NanoCpus: 500000000,
      ContainerIDFile: '',
      Links: null as unknown as string[],
      ...host,
    },
    NetworkSettings: {
      Networks: {
        proj_default: { Aliases: ['web', OLD_ID.slice(0, 12)], IPAMConfig: null, Links: null, DriverOpts: null },
        proj_back: { Aliases: ['web', 'api.internal', OLD_ID.slice(0, 12)], IPAMConfig: { IPv4Address: '172.30.0.10' }, Links: null },
      },
    },
    Mounts: [
      { Type: 'volume', Name: 'proj_pgdata', Destination: '/var/lib/data', RW: true },
      { Type: 'bind', Destination: '/etc/app', RW: false },
      { Type: 'volume', Name: 'f00anon', Destination: '/data', RW: true },
      { Type: 'volume', Name: 'cacheanon', Destination: '/cache', RW: true },
    ],
  };
}

describe('buildCreateSpec', () => {
  const spec = buildCreateSpec(container(), oldImage, { image: 'cdb-rollback/proj/web:rollback-20251224-153000', extraLabels: { 'cdb.rollback.tag': 'rollback-20251224-153000' } });
  const o = spec.options;

  it('targets the rollback image', () => {
    expect(o.Image).toBe('cdb-rollback/proj/web:rollback-20251224-153000');
  });

  it('keeps the environment the creator set and lets the new image supply its own defaults', () => {
    expect(o.Env).toEqual(['DATABASE_URL=postgres://db/app']);
  });

  it('leaves inherited command, working dir and healthcheck to the new image', () => {
    expect(o.Cmd).toBeUndefined();
    expect(o.Entrypoint).toBeUndefined();
    expect(o.WorkingDir).toBeUndefined();
    expect(o.Healthcheck).toBeUndefined();
    expect(o.User).toBe('app');
  });

  it('keeps compose labels and drops labels that came from the old image', () => {
    expect(o.Labels).toEqual({
      'com.docker.compose.project': 'proj',
      'com.docker.compose.service': 'web',
      'com.docker.compose.container-number': '1',
      'com.docker.compose.config-hash': 'abc123',
      traefik: 'on',
      'cdb.rollback.tag': 'rollback-20251224-153000',
    });
  });

  it('keeps host configuration: ports, restart policy, security, resources, binds', () => {
    const h = o.HostConfig ?? {};
    expect(h.PortBindings).toEqual({ '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    expect(h.RestartPolicy).toEqual({ Name: 'unless-stopped', MaximumRetryCount: 0 });
    expect(h.SecurityOpt).toEqual(['no-new-privileges:true']);
    expect(h.CapDrop).toEqual(['ALL']);
    expect(h.Memory).toBe(268435456);
    expect(h.NanoCpus).toBe(500000000);
    expect(h.ContainerIDFile).toBeUndefined();
  });

  it('carries anonymous volumes over by name, so their data stays', () => {
    expect(o.HostConfig?.Binds).toEqual(['proj_pgdata:/var/lib/data:rw', '/etc/app:/etc/app:ro', 'f00anon:/data', 'cacheanon:/cache']);
    expect(o.Volumes).toEqual({ '/data': {} });
  });

  it('keeps published and own exposed ports, not the old image’s', () => {
    expect(Object.keys(o.ExposedPorts ?? {}).sort()).toEqual(['7000/tcp', '8080/tcp']);
  });

  it('joins the primary network at create and the others later, with aliases but not the old short ID', () => {
    expect(o.NetworkingConfig?.EndpointsConfig).toEqual({ proj_default: { Aliases: ['web'] } });
    expect(spec.extraNetworks).toEqual([{ name: 'proj_back', endpoint: { Aliases: ['web', 'api.internal'], IPAMConfig: { IPv4Address: '172.30.0.10' } } }]);
  });

  it('does not give the new container the old one’s generated hostname, but keeps a chosen one', () => {
    expect(o.Hostname).toBeUndefined();
    const named = buildCreateSpec(container({ Hostname: 'web01' }), oldImage, { image: 'x' });
    expect(named.options.Hostname).toBe('web01');
  });

  it('keeps a command, entrypoint and healthcheck the creator set', () => {
    const s = buildCreateSpec(container({ Cmd: ['serve', '--fast'], Entrypoint: ['/init'], Healthcheck: { Test: ['NONE'] } }), oldImage, { image: 'x' });
    expect(s.options.Entrypoint).toEqual(['/init']);
    expect(s.options.Cmd).toEqual(['serve', '--fast']);
    expect(s.options.Healthcheck).toEqual({ Test: ['NONE'] });
    const cmdOnly = buildCreateSpec(container({ Cmd: ['other'] }), oldImage, { image: 'x' });
    expect(cmdOnly.options.Cmd).toEqual(['other']);
    expect(cmdOnly.options.Entrypoint).toBeUndefined();
  });

  it('points container: references at replacements', () => {
    const newId = 'b'.repeat(64);
    const s = buildCreateSpec(container({}, { NetworkMode: `container:${'c'.repeat(64)}` }), oldImage, { image: 'x', idMap: new Map([['c'.repeat(64), newId]]) });
    expect(s.options.HostConfig?.NetworkMode).toBe(`container:${newId}`);
    expect(s.options.NetworkingConfig).toBeUndefined();
    expect(s.extraNetworks).toEqual([]);
  });

  it('on the default bridge, connects user networks after create', () => {
    const s = buildCreateSpec(container({}, { NetworkMode: 'default' }), oldImage, { image: 'x' });
    expect(s.options.NetworkingConfig).toBeUndefined();
    expect(s.extraNetworks.map((n) => n.name)).toEqual(['proj_default', 'proj_back']);
  });
});

describe('createLinks', () => {
  it('turns inspect links into create links', () => {
    expect(createLinks(['/proj_db_1:/proj_web_1/db', '/proj_cache_1:/proj_web_1/proj_cache_1'])).toEqual(['proj_db_1:db', 'proj_cache_1:proj_cache_1']);
    expect(createLinks(null)).toBeUndefined();
  });
});
