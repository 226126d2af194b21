// A remote Docker host (stack.docker: ssh://…): the doctor reads secret and compose files over SFTP
// with the host key pinned, and reaches the engine over the same SSH server. Real sshd and Docker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import job from '../../jobs/doctor.ts';
import { buildConfig } from '../../src/shared/config/load.ts';
import type { Config } from '../../src/shared/config/schema.ts';
import { readCompose } from '../../src/host/compose/read.ts';
import { hostFilesFor, sshFiles } from '../../src/host/host-files.ts';
import { createLogger } from '../../src/shared/log.ts';
import { createDocker } from '../../src/host/docker-client.ts';
import { randomSuffix, startComposeStack, type ComposeStack } from '../support/compose-stack.ts';
import { startSshd, type SshdHandle } from '../support/sshd.ts';
import { jobRedis } from '../support/harness.ts';

const redis = jobRedis();

describe('doctor on a Docker host reached over SSH', () => {
  let sshd: SshdHandle;
  let dir: string;
  let stack: ComposeStack;
  let config: Config;

  beforeAll(async () => {
    sshd = await startSshd();
    dir = await mkdtemp(join('/tmp', 'cdbt-doctor-ssh-'));
    await writeFile(join(dir, 'db_password'), 'pw');
    await chmod(join(dir, 'db_password'), 0o600);
    await mkdir(join(dir, 'grafana_password'));
    stack = await startComposeStack({
      project: `cdbt${randomSuffix()}`,
      services: { app: { command: ['sleep', '3600'], volumes: [`${join(dir, 'grafana_password')}:/run/secrets/grafana_password:ro`, `${join(dir, 'db_password')}:/run/secrets/db_password:ro`] } },
    });
    config = buildConfig({
      stack: { project: stack.project, docker: `ssh://root@127.0.0.1:${sshd.port}`, composeFiles: [stack.file] },
      ssh: { privateKeyFile: sshd.privateKeyPath, knownHostsFile: sshd.knownHostsPath },
      redis: { prefix: `cdbt-${randomSuffix()}` },
      doctor: { timeoutSeconds: 30 },
    }, {}, '(ssh test)');
  });

  afterAll(async () => {
    await redis.quit();
    await stack?.down();
    await sshd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('stats files over SFTP: regular file with its mode, directory, missing', async () => {
    const files = hostFilesFor(config, 'inspect');
    try {
      expect(files.where).toBe(`ssh://root@127.0.0.1:${sshd.port}`);
      expect(await files.stat(join(dir, 'db_password'))).toEqual({ kind: 'file', mode: 0o600, size: 2 });
      expect((await files.stat(join(dir, 'grafana_password'))).kind).toBe('directory');
      expect(await files.stat(join(dir, 'nope'))).toEqual({ kind: 'missing' });
      const read = await readCompose(files, [stack.file], stack.project);
      expect(Object.keys(read.model?.services ?? {})).toEqual(['app']);
    } finally {
      await files.close();
    }
  });

  it('refuses a host whose key is not the pinned one, and says so instead of passing', async () => {
    const files = sshFiles({ host: '127.0.0.1', port: sshd.port, username: 'root', privateKey: sshd.privateKey, pinnedKeys: new Set(['AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyNotTheServers000000000000000000000']), timeoutMs: 10_000 });
    try {
      expect(await files.stat(join(dir, 'db_password'))).toMatchObject({ kind: 'unknown', error: expect.stringMatching(/^SSH to 127\.0\.0\.1:\d+ failed/) });
    } finally {
      await files.close();
    }
  });

  it('runs the whole doctor over ssh://: the directory where a secret should be is found on the remote side', async () => {
    const docker = createDocker(config);
    const result = await job.run({
      requestId: `itest${randomSuffix()}`, actor: { userId: 'local:tester', teamId: 'local' }, config, docker, redis,
      log: createLogger({ level: 'silent' }), signal: new AbortController().signal, progress: () => undefined, notify: async () => undefined,
    }, { checks: ['secret-files', 'orphan-containers'] });
    expect(result.findings).toEqual(expect.arrayContaining([
      expect.objectContaining({ check: 'secret-files', status: 'fail', name: join(dir, 'grafana_password'), detail: expect.stringContaining('is a directory') }),
      expect.objectContaining({ check: 'orphan-containers', status: 'pass' }),
    ]));
    expect(result.findings.find((f) => f.name === join(dir, 'db_password'))).toBeUndefined();
  });
});
