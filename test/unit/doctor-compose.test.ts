import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listToMap, mergeCompose } from '../../src/host/compose/merge.ts';
import { interpolate } from '../../src/host/compose/interpolate.ts';
import { bindingsCollide, formatBinding, onAllInterfaces, parsePortSpec } from '../../src/host/compose/ports.ts';
import { buildComposeModel } from '../../src/host/compose/model.ts';
import { composeFilesFromLabels, readCompose, readComposeFiles } from '../../src/host/compose/read.ts';
import { hostFilesFor, localFiles } from '../../src/host/host-files.ts';
import { doctorConfig } from '../support/doctor-fixtures.ts';

describe('compose overlays', () => {
  it('merges mappings, appends lists, replaces command and scalars, and merges list-form environment by key', () => {
    const base = { services: { db: { image: 'postgres:15', command: ['a'], ports: ['127.0.0.1:5432:5432'], environment: ['A=1', 'B=2'], networks: ['backend'] } } };
    const over = { services: { db: { image: 'postgres:16', command: ['b'], ports: ['127.0.0.1:5433:5432'], environment: { B: '3', C: '4' }, networks: { edge: {} } }, web: { image: 'w' } } };
    expect(mergeCompose(base, over)).toEqual({
      services: {
        db: { image: 'postgres:16', command: ['b'], ports: ['127.0.0.1:5432:5432', '127.0.0.1:5433:5432'], environment: { A: '1', B: '3', C: '4' }, networks: { backend: null, edge: {} } },
        web: { image: 'w' },
      },
    });
    expect(listToMap(['X', 'Y=a=b'])).toEqual({ X: null, Y: 'a=b' });
  });

  it('interpolates ${VAR}, defaults, alternatives and $$ like compose', () => {
    const env = { TAG: '16', EMPTY: '' };
    expect(interpolate('postgres:${TAG}', env)).toBe('postgres:16');
    expect(interpolate('${MISSING:-d} ${EMPTY:-d} ${EMPTY-d} ${MISSING-d}', env)).toBe('d d  d');
    expect(interpolate('${TAG:+set}${MISSING:+set}|$TAG|$$HOME|${MISSING:?boom}', env)).toBe('set|16|$HOME|');
  });

  it('reads .env files with dotenv: quotes go, comments after a quoted value go, bad lines are skipped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdb-dotenv-'));
    try {
      await writeFile(join(dir, '.env'), '# c\nA=1\nexport B="two words"\nC=x # note\nD="a" # c\nE=\'$$literal\'\nbad line\n');
      await writeFile(join(dir, 'c.yml'), 'x: "${A}|${B}|${C}|${D}|${E}|${F:-def}|$$HOME"\n');
      const read = await readComposeFiles(localFiles(), [join(dir, 'c.yml')]);
      expect(read.sources[0]?.doc).toEqual({ x: '1|two words|x|a|$$literal|def|$HOME' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('compose ports', () => {
  it('parses short and long syntax', () => {
    expect(parsePortSpec('127.0.0.1:5432:5432')).toEqual([{ containerPort: 5432, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 5432 }]);
    expect(parsePortSpec('8080:80')).toEqual([{ containerPort: 80, proto: 'tcp', hostIp: '', hostPort: 8080 }]);
    expect(parsePortSpec('127.0.0.1::80')).toEqual([{ containerPort: 80, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0 }]);
    expect(parsePortSpec('53:53/udp')).toEqual([{ containerPort: 53, proto: 'udp', hostIp: '', hostPort: 53 }]);
    expect(parsePortSpec('[::1]:80:80')).toEqual([{ containerPort: 80, proto: 'tcp', hostIp: '::1', hostPort: 80 }]);
    expect(parsePortSpec('9000')).toEqual([{ containerPort: 9000, proto: 'tcp', hostIp: '', hostPort: 0 }]);
    expect(parsePortSpec(9000)).toEqual([{ containerPort: 9000, proto: 'tcp', hostIp: '', hostPort: 0 }]);
    expect(parsePortSpec('8000-8001:9000-9001').map((p) => `${p.hostPort}->${p.containerPort}`)).toEqual(['8000->9000', '8001->9001']);
    expect(parsePortSpec({ target: 80, published: '8080', host_ip: '127.0.0.1', protocol: 'tcp' })).toEqual([{ containerPort: 80, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 8080 }]);
  });

  it('knows which bindings are open to every interface and which collide', () => {
    expect(['', '0.0.0.0', '::'].every(onAllInterfaces)).toBe(true);
    expect(onAllInterfaces('127.0.0.1')).toBe(false);
    const p = (hostIp: string, hostPort: number) => ({ containerPort: 1, proto: 'tcp', hostIp, hostPort });
    expect(bindingsCollide(p('127.0.0.1', 80), p('', 80))).toBe(true);
    expect(bindingsCollide(p('127.0.0.1', 80), p('10.0.0.1', 80))).toBe(false);
    expect(bindingsCollide(p('', 0), p('', 0))).toBe(false);
    expect(formatBinding(p('::', 80))).toBe('[::]:80->1/tcp');
  });
});

describe('compose model', () => {
  it('names networks, volumes and secrets the way compose does', () => {
    const doc = {
      services: { web: { image: 'w', ports: ['8080:80'], secrets: ['db_password', { source: 'api_key' }], volumes: ['data:/data', './conf:/etc/conf'], networks: ['backend'] }, db: { image: 'd' } },
      volumes: { data: {}, named: { name: 'explicit' }, ext: { external: true } },
      networks: { backend: { internal: true }, shared: { external: { name: 'corp' } } },
      secrets: { db_password: { file: './secrets/db' }, api_key: { external: true } },
    };
    const m = buildComposeModel([doc], ['/srv/cdb/docker-compose.yml'], 'cdb', '/srv/cdb');
    expect(m.volumes).toEqual({ data: { name: 'cdb_data', external: false }, named: { name: 'explicit', external: false }, ext: { name: 'ext', external: true } });
    expect(m.networks).toEqual({ backend: { name: 'cdb_backend', external: false, internal: true }, shared: { name: 'corp', external: true, internal: false }, default: { name: 'cdb_default', external: false, internal: false } });
    expect(m.secrets).toEqual({ db_password: { file: '/srv/cdb/secrets/db', external: false }, api_key: { file: undefined, external: true } });
    expect(m.services.web).toMatchObject({ secrets: ['db_password', 'api_key'], volumes: ['data'], networks: ['backend'] });
    expect(m.services.db?.networks).toEqual(['default']);
  });

  it('finds the compose files compose recorded on the containers', () => {
    expect(composeFilesFromLabels([{}, { 'com.docker.compose.project.config_files': 'base.yml,/abs/logging.yml', 'com.docker.compose.project.working_dir': '/srv/cdb' }])).toEqual(['/srv/cdb/base.yml', '/abs/logging.yml']);
    expect(composeFilesFromLabels([{}])).toEqual([]);
  });
});

describe('reading compose files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cdb-doctor-compose-'));
    await writeFile(join(dir, '.env'), 'PG_TAG="16" # the major version\n');
    await writeFile(join(dir, 'base.yml'), 'x-logging: &log\n  driver: json-file\nservices:\n  db:\n    image: postgres:${PG_TAG}\n    logging: *log\nsecrets:\n  pg:\n    file: ./pg\n');
    await writeFile(join(dir, 'dev.yml'), 'services:\n  db:\n    ports: ["127.0.0.1:5432:5432"]\n  adminer:\n    image: adminer\n');
    await writeFile(join(dir, 'broken.yml'), 'services: [\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads, interpolates from .env and merges overlays in order', async () => {
    const read = await readCompose(localFiles(), [join(dir, 'base.yml'), join(dir, 'dev.yml')], 'cdb');
    expect(read.problem).toBeUndefined();
    expect(Object.keys(read.model?.services ?? {})).toEqual(['db', 'adminer']);
    expect(read.model?.services.db).toMatchObject({ image: 'postgres:16', ports: [{ hostIp: '127.0.0.1', hostPort: 5432 }] });
    expect(read.model?.secrets.pg?.file).toBe(join(dir, 'pg'));
  });

  it('says what is wrong with missing, unreadable or invalid files, or none configured', async () => {
    expect((await readCompose(localFiles(), [], 'cdb')).problem).toMatch(/no compose files: set stack.composeFiles/);
    expect((await readCompose(localFiles(), [join(dir, 'nope.yml')], 'cdb')).problem).toMatch(/cannot read compose file .*nope.yml \(not found\)/);
    expect((await readCompose(localFiles(), [join(dir, 'broken.yml')], 'cdb')).problem).toMatch(/is not valid YAML/);
  });
});

describe('file access', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cdb-doctor-files-'));
    await writeFile(join(dir, 'ok'), 'pw');
    await chmod(join(dir, 'ok'), 0o600);
    await mkdir(join(dir, 'adir'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stats local files: kind, permission bits and size', async () => {
    const files = localFiles();
    expect(await files.stat(join(dir, 'ok'))).toEqual({ kind: 'file', mode: 0o600, size: 2 });
    expect((await files.stat(join(dir, 'adir'))).kind).toBe('directory');
    expect(await files.stat(join(dir, 'missing'))).toEqual({ kind: 'missing' });
    expect(await files.stat(join(dir, 'ok', 'below-a-file'))).toEqual({ kind: 'missing' });
  });

  it('picks local files for unix:// and loopback tcp://, and says why remote tcp:// files are out of reach', async () => {
    const base = { ssh: {}, doctor: doctorConfig() };
    expect(hostFilesFor({ ...base, stack: { project: 'p', docker: 'unix:///var/run/docker.sock', composeFiles: [] } }, 'inspect').where).toBe('local');
    expect(hostFilesFor({ ...base, stack: { project: 'p', docker: 'tcp://127.0.0.1:2375', composeFiles: [] } }, 'inspect').where).toBe('local');
    const remote = hostFilesFor({ ...base, stack: { project: 'p', docker: 'tcp://10.1.2.3:2375', composeFiles: [] } }, 'inspect');
    expect(await remote.stat('/x')).toMatchObject({ kind: 'unknown', error: expect.stringContaining('use stack.docker: ssh://') });
    const sshNoKeys = hostFilesFor({ ...base, stack: { project: 'p', docker: 'ssh://deploy@10.1.2.3', composeFiles: [] } }, 'inspect');
    expect(await sshNoKeys.stat('/x')).toMatchObject({ kind: 'unknown', error: expect.stringContaining('ssh.privateKeyFile') });
  });
});
