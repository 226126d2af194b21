import { readFile, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { constants } from 'node:fs';
import { NodeSSH } from 'node-ssh';
import type { Config } from '../../shared/config/schema.ts';
import { hostKeyVerifier, pinnedHostKeys } from '../../host/docker-client.ts';
import type { FileFacts } from './types.ts';

/**
 * Files on the Docker host (secret files, compose files): read with fs when the engine is local,
 * over SSH (SFTP, host key pinned) when `stack.docker` is ssh://. Never reads secret contents:
 * `stat` only; `readText` is for compose files.
 */
export interface FileAccess {
  /** e.g. `local` or `ssh://deploy@host:22`, for report lines. */
  readonly where: string;
  stat(path: string): Promise<FileFacts>;
  readText(path: string): Promise<string>;
  close(): Promise<void>;
}

function kindOf(mode: number): FileFacts['kind'] {
  const type = mode & constants.S_IFMT;
  if (type === constants.S_IFREG) return 'file';
  if (type === constants.S_IFDIR) return 'directory';
  return 'other';
}

function factsFromMode(mode: number, size: number): FileFacts {
  return { kind: kindOf(mode), mode: mode & 0o7777, size };
}

export function localFiles(): FileAccess {
  return {
    where: 'local',
    async stat(path) {
      try {
        const s = await stat(path);
        return factsFromMode(s.mode, s.size);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
        return { kind: 'unknown', error: `${code ?? 'error'} while reading ${path}` };
      }
    },
    readText: (path) => readFile(path, 'utf8'),
    close: async () => undefined,
  };
}

/** For tcp:// engines on another host: the files are out of reach, and every answer says so. */
export function unreachableFiles(why: string): FileAccess {
  return {
    where: 'none',
    stat: async () => ({ kind: 'unknown', error: why }),
    readText: async () => {
      throw new Error(why);
    },
    close: async () => undefined,
  };
}

export interface SshTarget {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly privateKey: string;
  /** Base64 host key blobs from known_hosts: nothing else is accepted. */
  readonly pinnedKeys: ReadonlySet<string>;
  readonly timeoutMs: number;
}

const SFTP_NO_SUCH_FILE = 2;

export function sshFiles(target: SshTarget): FileAccess {
  const ssh = new NodeSSH();
  let connecting: Promise<unknown> | undefined;
  const connect = () => {
    connecting ??= ssh.connect({
      host: target.host,
      port: target.port,
      username: target.username,
      privateKey: target.privateKey,
      hostVerifier: hostKeyVerifier(new Set(target.pinnedKeys)),
      readyTimeout: target.timeoutMs,
    });
    return connecting;
  };
  const withSftp = async <T>(fn: (sftp: Awaited<ReturnType<NodeSSH['requestSFTP']>>) => Promise<T>): Promise<T> => {
    await connect();
    const sftp = await ssh.requestSFTP();
    try {
      return await fn(sftp);
    } finally {
      sftp.end();
    }
  };
  return {
    where: `ssh://${target.username}@${target.host}:${target.port}`,
    async stat(path) {
      try {
        return await withSftp((sftp) => new Promise<FileFacts>((resolve) => {
          sftp.stat(path, (err, s) => {
            if (err) {
              const code = (err as Error & { code?: number }).code;
              resolve(code === SFTP_NO_SUCH_FILE ? { kind: 'missing' } : { kind: 'unknown', error: `${err.message} (${path})` });
            } else resolve(factsFromMode(s.mode, s.size));
          });
        }));
      } catch (err) {
        return { kind: 'unknown', error: `SSH to ${target.host}:${target.port} failed: ${(err as Error).message}` };
      }
    },
    readText: (path) => withSftp((sftp) => new Promise<string>((resolve, reject) => {
      sftp.readFile(path, 'utf8', (err, data) => (err ? reject(err) : resolve(String(data))));
    })),
    async close() {
      if (connecting) await connecting.catch(() => undefined);
      ssh.dispose();
    },
  };
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Picks how to reach files on the engine's host from `stack.docker`. */
export function fileAccessFor(config: Pick<Config, 'stack' | 'ssh' | 'doctor'>): FileAccess {
  const url = new URL(config.stack.docker);
  if (url.protocol === 'unix:') return localFiles();
  if (url.protocol === 'tcp:') {
    return LOCAL_HOSTS.has(url.hostname) ? localFiles() : unreachableFiles(`files on ${url.hostname} cannot be read through tcp://; use stack.docker: ssh://user@${url.hostname} to check them`);
  }
  const { privateKeyFile, knownHostsFile } = config.ssh;
  if (!privateKeyFile || !knownHostsFile) return unreachableFiles('stack.docker is ssh:// but ssh.privateKeyFile or ssh.knownHostsFile is not set');
  const port = url.port ? Number(url.port) : 22;
  try {
    const pinnedKeys = pinnedHostKeys(readFileSync(knownHostsFile, 'utf8'), url.hostname, port);
    if (!pinnedKeys.size) return unreachableFiles(`${knownHostsFile} has no host key for ${url.hostname}:${port}`);
    return sshFiles({ host: url.hostname, port, username: decodeURIComponent(url.username), privateKey: readFileSync(privateKeyFile, 'utf8'), pinnedKeys, timeoutMs: config.doctor.timeoutSeconds * 1000 });
  } catch (err) {
    return unreachableFiles(`cannot read the SSH key or known_hosts (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
