import Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Config } from '../shared/config/schema.ts';
import { OpsError } from '../shared/errors.ts';

/** Parses known_hosts lines for one host into their base64 key blobs (the pinned host keys). */
export function pinnedHostKeys(knownHosts: string, host: string, port: number): Set<string> {
  const wanted = port === 22 ? [host, `[${host}]:22`] : [`[${host}]:${port}`];
  const keys = new Set<string>();
  for (const line of knownHosts.split('\n')) {
    const [hosts, , blob] = line.trim().split(/\s+/);
    if (!hosts || !blob || hosts.startsWith('#')) continue;
    if (hosts.split(',').some((h) => wanted.includes(h))) keys.add(blob);
  }
  return keys;
}

/** A verifier for ssh2 that accepts only a host key listed in known_hosts: no trust on first use. */
export function hostKeyVerifier(pinned: Set<string>): (key: Buffer) => boolean {
  return (key: Buffer) => pinned.has(key.toString('base64'));
}

export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** Builds the Engine API client for `stack.docker`: a local socket, TCP, or a remote host over SSH. */
export function createDocker(config: Pick<Config, 'stack' | 'ssh'>): Docker {
  const url = new URL(config.stack.docker);
  if (url.protocol === 'unix:') return new Docker({ socketPath: url.pathname });
  if (url.protocol === 'tcp:') return new Docker({ host: url.hostname, port: Number(url.port), protocol: 'http' });
  const { privateKeyFile, knownHostsFile } = config.ssh;
  if (!privateKeyFile || !knownHostsFile) {
    throw new OpsError('CONFIG_INVALID', 'stack.docker uses ssh://, so ssh.privateKeyFile and ssh.knownHostsFile must be set (host keys are pinned, never trusted on first use).');
  }
  const port = url.port ? Number(url.port) : 22;
  const pinned = pinnedHostKeys(readFileSync(knownHostsFile, 'utf8'), url.hostname, port);
  if (!pinned.size) throw new OpsError('CONFIG_INVALID', `${knownHostsFile} has no host key for ${url.hostname}:${port}. Add it with ssh-keyscan after checking its fingerprint.`);
  return new Docker({
    protocol: 'ssh',
    host: url.hostname,
    port,
    username: decodeURIComponent(url.username),
    sshOptions: { privateKey: readFileSync(privateKeyFile), hostVerifier: hostKeyVerifier(pinned) },
  } as Docker.DockerOptions);
}
