import { constants, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { posix, resolve } from 'node:path';
import { NodeSSH } from 'node-ssh';
import type { SFTPWrapper } from 'ssh2';
import type { Config } from '../shared/config/schema.ts';
import { OpsError } from '../shared/errors.ts';
import { hostKeyVerifier, pinnedHostKeys } from './docker-client.ts';

/**
 * Files on the stack host (compose files, `.env`, secret files, the rollback overlay): the local
 * file system when the Engine is local, SFTP with a pinned host key when `stack.docker` is ssh://.
 * No shell is involved anywhere, so no path can be misread as a command. Secret files are only
 * ever `stat`ed, never read.
 */
export interface HostFiles {
  /** `local`, `ssh://user@host:port` or `none`, for log and report lines. */
  readonly where: string;
  /** Never throws: what cannot be looked at comes back as kind `unknown` with the reason. */
  stat(path: string): Promise<FileFacts>;
  /** The file's text, or undefined when it does not exist. */
  read(path: string): Promise<string | undefined>;
  /** Atomic: the file holds either the old or the new content, never half of it. */
  write(path: string, content: string): Promise<void>;
  /** False when there was nothing to remove. */
  remove(path: string): Promise<boolean>;
  close(): Promise<void>;
}

export interface FileFacts {
  readonly kind: 'file' | 'directory' | 'missing' | 'other' | 'unknown';
  /** Permission bits, e.g. 0o600. */
  readonly mode?: number;
  readonly size?: number;
  /** Why the file could not be looked at (kind `unknown`). */
  readonly error?: string;
}

// What cdb writes or removes is held to a plain shape: a typo'd config should fail, not create odd names.
const PLAIN_PATH = /^\/[A-Za-z0-9._/@+-]+$/;

function checkPath(path: string, changes: boolean): void {
  const ok = posix.isAbsolute(path) && !path.includes('\0') && !path.split('/').includes('..') && (!changes || PLAIN_PATH.test(path));
  if (!ok) {
    const shape = changes ? ' and use only letters, digits and ._/@+-' : '';
    throw new OpsError('CONFIG_INVALID', `The stack file path ${JSON.stringify(path.slice(0, 200))} must be absolute${shape}.`);
  }
}

const tmpName = (path: string) => `${path}.${randomBytes(4).toString('hex')}.tmp`;

function kindOf(mode: number): FileFacts['kind'] {
  const type = mode & constants.S_IFMT;
  if (type === constants.S_IFREG) return 'file';
  if (type === constants.S_IFDIR) return 'directory';
  return 'other';
}

function factsFromMode(mode: number, size: number): FileFacts {
  return { kind: kindOf(mode), mode: mode & 0o7777, size };
}

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** The worker's own file system; relative paths resolve against its working directory. */
export function localFiles(): HostFiles {
  return {
    where: 'local',
    async stat(given) {
      const path = resolve(given);
      try {
        const s = await stat(path);
        return factsFromMode(s.mode, s.size);
      } catch (err) {
        const code = errno(err);
        if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
        return { kind: 'unknown', error: `${code ?? 'error'} while reading ${path}` };
      }
    },
    async read(given) {
      const path = resolve(given);
      checkPath(path, false);
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        if (errno(err) === 'ENOENT') return undefined;
        throw err;
      }
    },
    async write(given, content) {
      const path = resolve(given);
      checkPath(path, true);
      await mkdir(posix.dirname(path), { recursive: true });
      const tmp = tmpName(path);
      await writeFile(tmp, content, { mode: 0o644 });
      await rename(tmp, path);
    },
    async remove(given) {
      const path = resolve(given);
      checkPath(path, true);
      try {
        await rm(path);
        return true;
      } catch (err) {
        if (errno(err) === 'ENOENT') return false;
        throw err;
      }
    },
    close: async () => undefined,
  };
}

/** Files that cannot be reached (e.g. a tcp:// engine on another host): every answer says why. */
export function unreachableFiles(why: string): HostFiles {
  const refuse = async (): Promise<never> => {
    throw new OpsError('HOST_FILES_FAILED', `The stack host's files cannot be reached: ${why}.`);
  };
  return { where: 'none', stat: async () => ({ kind: 'unknown', error: why }), read: refuse, write: refuse, remove: refuse, close: async () => undefined };
}

export interface SshTarget {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly privateKey: string;
  /** Base64 host key blobs from known_hosts: nothing else is accepted. */
  readonly pinnedKeys: ReadonlySet<string>;
  readonly timeoutMs?: number;
}

const SFTP_NO_SUCH_FILE = 2;
const sftpCode = (err: unknown) => (err as { code?: unknown }).code;
type Sftp = SFTPWrapper;

/** One SSH connection and one SFTP session per handle, opened on first use. */
export function sshFiles(target: SshTarget): HostFiles {
  const ssh = new NodeSSH();
  const where = `ssh://${target.username}@${target.host}:${target.port}`;
  let session: Promise<Sftp> | undefined;
  const sftp = (): Promise<Sftp> => {
    session ??= ssh
      .connect({
        host: target.host,
        port: target.port,
        username: target.username,
        privateKey: target.privateKey,
        hostVerifier: hostKeyVerifier(new Set(target.pinnedKeys)),
        readyTimeout: target.timeoutMs ?? 15_000,
      })
      .then(() => ssh.requestSFTP());
    return session;
  };
  const call = <T>(fn: (s: Sftp, done: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> =>
    sftp().then((s) => new Promise<T>((ok, fail) => fn(s, (err, value) => (err ? fail(err) : ok(value as T)))));
  const failed = (what: string, path: string, err: unknown) =>
    new OpsError('HOST_FILES_FAILED', `Could not ${what} ${path} on ${target.host}: ${(err as Error).message.slice(0, 200)}`, { cause: err });

  return {
    where,
    async stat(path) {
      try {
        checkPath(path, false);
        await sftp();
      } catch (err) {
        return { kind: 'unknown', error: err instanceof OpsError ? err.userMessage : `SSH to ${target.host}:${target.port} failed: ${(err as Error).message}` };
      }
      try {
        const s = await call<{ mode: number; size: number }>((c, done) => c.stat(path, done));
        return factsFromMode(s.mode, s.size);
      } catch (err) {
        return sftpCode(err) === SFTP_NO_SUCH_FILE ? { kind: 'missing' } : { kind: 'unknown', error: `${(err as Error).message} (${path})` };
      }
    },
    async read(path) {
      checkPath(path, false);
      try {
        return String(await call<Buffer | string>((c, done) => c.readFile(path, 'utf8', done)));
      } catch (err) {
        if (sftpCode(err) === SFTP_NO_SUCH_FILE) return undefined;
        throw failed('read', path, err);
      }
    },
    async write(path, content) {
      checkPath(path, true);
      const tmp = tmpName(path);
      try {
        const s = await sftp();
        await ssh.mkdir(posix.dirname(path), 'sftp', s);
        await call<void>((c, done) => c.writeFile(tmp, content, { mode: 0o644 }, done));
        await call<void>((c, done) => c.chmod(tmp, 0o644, done));
        // posix-rename@openssh.com replaces the target in one step; plain SFTP rename refuses to.
        await call<void>((c, done) => c.ext_openssh_rename(tmp, path, done));
      } catch (err) {
        await call<void>((c, done) => c.unlink(tmp, done)).catch(() => undefined);
        throw failed('write', path, err);
      }
    },
    async remove(path) {
      checkPath(path, true);
      try {
        await call<void>((c, done) => c.unlink(path, done));
        return true;
      } catch (err) {
        if (sftpCode(err) === SFTP_NO_SUCH_FILE) return false;
        throw failed('remove', path, err);
      }
    },
    async close() {
      if (session) await session.then((s) => s.end()).catch(() => undefined);
      session = undefined;
      ssh.dispose();
    },
  };
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * How to reach the files of the host `stack.docker` names. `inspect` (the doctor) never throws:
 * what is out of reach is reported through the handle. `change` (rollback) refuses a broken SSH
 * setup with CONFIG_INVALID, and keeps its overlay on the worker host for any tcp:// engine.
 */
export function hostFilesFor(config: Pick<Config, 'stack' | 'ssh'>, purpose: 'inspect' | 'change', timeoutMs?: number): HostFiles {
  const url = new URL(config.stack.docker);
  if (url.protocol === 'unix:') return localFiles();
  if (url.protocol === 'tcp:') {
    if (purpose === 'change' || LOCAL_HOSTS.has(url.hostname)) return localFiles();
    return unreachableFiles(`files on ${url.hostname} cannot be read through tcp://; use stack.docker: ssh://user@${url.hostname} to check them`);
  }
  const broken = (why: string) => {
    if (purpose === 'change') throw new OpsError('CONFIG_INVALID', `The stack host's files cannot be reached: ${why}.`);
    return unreachableFiles(why);
  };
  const { privateKeyFile, knownHostsFile } = config.ssh;
  if (!privateKeyFile || !knownHostsFile) return broken('stack.docker is ssh:// but ssh.privateKeyFile or ssh.knownHostsFile is not set');
  const port = url.port ? Number(url.port) : 22;
  let pinnedKeys: Set<string>;
  let privateKey: string;
  try {
    pinnedKeys = pinnedHostKeys(readFileSync(knownHostsFile, 'utf8'), url.hostname, port);
    privateKey = readFileSync(privateKeyFile, 'utf8');
  } catch (err) {
    return broken(`cannot read the SSH key or known_hosts (${errno(err) ?? 'error'})`);
  }
  if (!pinnedKeys.size) return broken(`${knownHostsFile} has no host key for ${url.hostname}:${port}`);
  return sshFiles({ host: url.hostname, port, username: decodeURIComponent(url.username), privateKey, pinnedKeys, timeoutMs });
}
