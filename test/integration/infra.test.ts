// Proves the integration-test infrastructure works on this machine:
// local images, compose stacks, and a real sshd. Needs docker; run
// `bash scripts/ensure-services.sh` first. Never skips: missing docker fails.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { NodeSSH } from 'node-ssh';
import { readFile } from 'node:fs/promises';
import {
  assertDockerAvailable,
  buildBusyboxImage,
  ensureBusyboxImage,
  ensureTestImages,
  runCommand,
  BUSYBOX_IMAGE,
  type TestImages,
} from '../support/images.ts';
import { randomSuffix, startComposeStack, waitFor, type ComposeStack } from '../support/compose-stack.ts';
import { sha256Fingerprint, startSshd, type SshdHandle } from '../support/sshd.ts';

const T = 180_000;

describe('test infrastructure: images', () => {
  let images: TestImages;

  beforeAll(async () => {
    await assertDockerAvailable();
    images = await ensureTestImages();
  }, T);

  it('provides the busybox image, and a second ensure is a cache hit', async () => {
    expect(images.busybox).toBe(BUSYBOX_IMAGE);
    const again = await ensureBusyboxImage();
    expect(again).toEqual({ tag: BUSYBOX_IMAGE, built: false });
    const { stdout } = await runCommand('docker', ['image', 'inspect', '--format', '{{json .Config.Cmd}}', images.busybox]);
    expect(JSON.parse(stdout)).toEqual(['sh']);
  }, T);

  it('builds the recipe from scratch (under a throwaway tag)', async () => {
    const tag = `cdbt${randomSuffix()}/busybox:test`;
    try {
      await buildBusyboxImage(tag);
      const { stdout } = await runCommand('docker', [
        'run', '--rm', '--network', 'none', tag, 'sh', '-c', 'id -u app; echo hi | grep -c hi; ls -ld /tmp',
      ]);
      const [uid, count, tmpLine] = stdout.trim().split('\n');
      expect(uid).toBe('1000');
      expect(count).toBe('1');
      expect(tmpLine).toMatch(/^drwxrwxrwt/);
      const asApp = await runCommand('docker', ['run', '--rm', '--network', 'none', '--user', 'app', tag, 'id', '-un']);
      expect(asApp.stdout.trim()).toBe('app');
    } finally {
      await runCommand('docker', ['rmi', '-f', tag]).catch(() => undefined);
    }
  }, T);
});

describe('test infrastructure: compose stack', () => {
  let stack: ComposeStack | undefined;

  beforeAll(async () => {
    await assertDockerAvailable();
    stack = await startComposeStack({ project: `cdbt${randomSuffix()}` });
  }, T);

  afterAll(async () => {
    await stack?.down();
  }, T);

  function s(): ComposeStack {
    if (!stack) throw new Error('compose stack did not start');
    return stack;
  }

  it('starts all default services', async () => {
    const services = (await s().ps()).map((c) => c.service).sort();
    expect(services).toEqual(['crashloop', 'exposed', 'web']);
  }, T);

  it('web becomes healthy and serves on a loopback-only random port', async () => {
    await waitFor(async () => (await s().container('web')).health === 'healthy', {
      what: 'web to become healthy',
      timeoutMs: 120_000,
      intervalMs: 500,
    });
    const { host, port } = await s().hostPort('web', 8080);
    expect(host).toBe('127.0.0.1');
    const body = await waitFor(
      async () => {
        const res = await fetch(`http://${host}:${port}/`);
        return res.ok ? (await res.text()).trim() : null;
      },
      { what: 'web to answer over its published port', timeoutMs: 60_000 },
    );
    expect(body).toBe('ok');
  }, T);

  it('crashloop is seen restarting', async () => {
    const c = await waitFor(
      async () => {
        const x = await s().container('crashloop');
        return x.restarting || x.restartCount > 0 ? x : null;
      },
      { what: 'crashloop to restart', timeoutMs: 120_000, intervalMs: 250 },
    );
    expect(c.restarting || c.restartCount > 0).toBe(true);
    const logs = await s().compose(['logs', '--no-color', 'crashloop']);
    expect(logs).toContain('boom');
  }, T);

  it('exposed publishes its port on all interfaces', async () => {
    const c = await s().container('exposed');
    const p = c.ports.find((x) => x.containerPort === '9000/tcp');
    expect(p?.hostIp).toBe('0.0.0.0');
    expect(p?.hostPort).toBeGreaterThan(0);
  }, T);
});

describe('test infrastructure: sshd', () => {
  let sshd: SshdHandle | undefined;

  beforeAll(async () => {
    sshd = await startSshd();
  }, T);

  afterAll(async () => {
    await sshd?.stop();
  }, T);

  function d(): SshdHandle {
    if (!sshd) throw new Error('sshd did not start');
    return sshd;
  }

  it('writes a known_hosts line for the host key', async () => {
    const line = (await readFile(d().knownHostsPath, 'utf8')).trim();
    expect(line.startsWith(`[127.0.0.1]:${d().port} ssh-ed25519 AAAA`)).toBe(true);
    expect(d().hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  }, T);

  it('accepts the client key and runs a command, verifying the host key', async () => {
    const ssh = new NodeSSH();
    let seen = '';
    try {
      await ssh.connect({
        host: d().host,
        port: d().port,
        username: d().username,
        privateKey: d().privateKey,
        readyTimeout: 60_000,
        hostVerifier: (key: Buffer): boolean => {
          seen = sha256Fingerprint(key);
          return seen === d().hostKeyFingerprint;
        },
      });
      const res = await ssh.execCommand('echo hello');
      expect(res.code).toBe(0);
      expect(res.stdout.trim()).toBe('hello');
      expect(seen).toBe(d().hostKeyFingerprint);
    } finally {
      ssh.dispose();
    }
  }, T);

  it('refuses the server when its host key does not match', async () => {
    const ssh = new NodeSSH();
    const expected = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    let verifierCalled = false;
    try {
      await expect(
        ssh.connect({
          host: d().host,
          port: d().port,
          username: d().username,
          privateKey: d().privateKey,
          readyTimeout: 60_000,
          hostVerifier: (key: Buffer): boolean => {
            verifierCalled = true;
            return sha256Fingerprint(key) === expected;
          },
        }),
      ).rejects.toThrow(/verification failed/i);
      expect(verifierCalled).toBe(true);
    } finally {
      ssh.dispose();
    }
  }, T);
});
