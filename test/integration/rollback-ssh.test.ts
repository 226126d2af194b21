// The rollback overlay on a stack host reached over SSH (stack.docker = ssh://…): written,
// read back and removed through a real sshd with a pinned host key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startSshd, type SshdHandle } from '../support/sshd.ts';
import { buildConfig } from '../../src/shared/config/load.ts';
import { hostFilesFor, sshFiles } from '../../src/host/host-files.ts';
import { pinnedHostKeys } from '../../src/host/docker-client.ts';
import { overlayPathFor } from '../../src/features/rollback/compose-files.ts';
import { clearPins, pinServices, readPins } from '../../src/features/rollback/overlay.ts';
import { OpsError } from '../../src/shared/errors.ts';

const T = 120_000;

describe('rollback overlay over SSH', () => {
  let sshd: SshdHandle | undefined;
  let dir = '';

  beforeAll(async () => {
    sshd = await startSshd();
    dir = await mkdtemp(join(tmpdir(), 'cdbt-ssh-stack-'));
    await writeFile(join(dir, 'docker-compose.yml'), "version: '2.4'\nservices:\n  web:\n    image: app:current\n");
  }, T);

  afterAll(async () => {
    await sshd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, T);

  function config() {
    if (!sshd) throw new Error('sshd did not start');
    return buildConfig({
      stack: { project: 'cdbtssh', docker: `ssh://root@127.0.0.1:${sshd.port}`, composeFiles: [join(dir, 'docker-compose.yml')] },
      ssh: { privateKeyFile: sshd.privateKeyPath, knownHostsFile: sshd.knownHostsPath },
    }, {}, '(ssh test)');
  }

  it('pins, reads and clears the overlay on the stack host', async () => {
    const cfg = config();
    const files = hostFilesFor(cfg, 'change');
    const env = { files, overlayPath: overlayPathFor(cfg), config: cfg, actor: { userId: 'U0TESTER', teamId: 'T0TEST' }, requestId: 'req-ssh-1' };
    try {
      expect(files.where).toBe(`ssh://root@127.0.0.1:${sshd?.port}`);
      expect(await readPins(env)).toEqual({});
      const path = await pinServices(env, { web: 'cdb-rollback/cdbtssh/web:rollback-20251224-153000' }, new Set(['web']));
      expect(path).toBe(join(dir, 'rollback.yml'));
      const doc = parse(await readFile(path, 'utf8')) as { version: string; services: Record<string, { image: string }> };
      expect(doc).toEqual({ version: '2.4', services: { web: { image: 'cdb-rollback/cdbtssh/web:rollback-20251224-153000' } } });
      expect(await readPins(env)).toEqual({ web: 'cdb-rollback/cdbtssh/web:rollback-20251224-153000' });
      const cleared = await clearPins(env);
      expect(cleared.removed).toBe(true);
      await expect(stat(path)).rejects.toThrow();
      expect((await clearPins(env)).removed).toBe(false);
    } finally {
      await files.close();
    }
  }, T);

  it('refuses a stack host whose key is not pinned, and paths a shell could misread', async () => {
    if (!sshd) throw new Error('sshd did not start');
    const stranger = sshFiles({ host: '127.0.0.1', port: sshd.port, username: 'root', privateKey: sshd.privateKey, pinnedKeys: pinnedHostKeys(`[127.0.0.1]:${sshd.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOv3hcHvkYpJyZpQ5n5t3T0jYbM0ZkzZ2XyS3cM5ZlqO\n`, '127.0.0.1', sshd.port) });
    try {
      await expect(stranger.read(join(dir, 'docker-compose.yml'))).rejects.toThrow();
    } finally {
      await stranger.close();
    }
    const files = hostFilesFor(config(), 'change');
    try {
      await expect(files.write("/tmp/x'; rm -rf /tmp/y", 'x')).rejects.toThrow(OpsError);
      await expect(files.read('relative/path.yml')).rejects.toThrow(OpsError);
    } finally {
      await files.close();
    }
  }, T);
});
