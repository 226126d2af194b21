import { open, rm, stat, mkdir, chmod } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { execFile } from 'node:child_process';
import { NodeSSH } from 'node-ssh';
import type { SFTPWrapper } from 'ssh2';
import type { Config } from '../../shared/config/schema.ts';
import { OpsError } from '../../shared/errors.ts';
import { hostKeyVerifier, pinnedHostKeys } from '../../host/docker-client.ts';
import type { SecretHost } from './engine.ts';

// Paths go into a remote shell command, so they are held to a plain shape instead of being escaped.
const SAFE_PATH = /^\/[A-Za-z0-9._/@+-]+$/;

export function checkSecretPath(path: string): string {
  if (!SAFE_PATH.test(path) || path.split('/').includes('..')) {
    throw new OpsError('CONFIG_INVALID', `The secret path ${JSON.stringify(path.slice(0, 200))} must be absolute and use only letters, digits and ._/@+-.`);
  }
  return path;
}

/**
 * Writes over the existing bytes, then cuts the tail: the file keeps its inode (a single-file bind
 * mount keeps seeing it, moby#22627) and is never empty in between, so a consumer that reads it
 * on each use never reads a half-written value (our values have a fixed length per kind).
 */
async function writeLocal(path: string, value: string): Promise<void> {
  const data = Buffer.from(value, 'utf8');
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let fh;
  try {
    fh = await open(path, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    fh = await open(path, 'wx', 0o600);
  }
  try {
    await fh.write(data, 0, data.length, 0);
    await fh.truncate(data.length);
    await fh.chmod(0o600);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function localSecretHost(): SecretHost {
  return {
    where: 'worker host',
    async read(path) {
      checkSecretPath(path);
      try {
        const fh = await open(path, 'r');
        try {
          return await fh.readFile('utf8');
        } finally {
          await fh.close();
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async writeInPlace(path, value) {
      await writeLocal(checkSecretPath(path), value);
    },
    async remove(path) {
      checkSecretPath(path);
      try {
        await rm(path);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
    },
    async modifiedAt(path) {
      checkSecretPath(path);
      return stat(path).then((s) => s.mtimeMs, () => undefined);
    },
    async ensureDir(path) {
      checkSecretPath(path);
      await mkdir(path, { recursive: true, mode: 0o700 });
      await chmod(path, 0o700);
    },
    exec(argv, stdin) {
      return new Promise((resolve) => {
        const [file, ...args] = argv;
        if (!file) throw new Error('exec needs a program');
        const child = execFile(file, args, { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
        });
        if (stdin !== undefined) child.stdin?.end(stdin);
      });
    },
    async close() {},
  };
}

export interface SshHostTarget {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly privateKey: string;
  readonly knownHosts: string;
}

const SFTP_NO_SUCH_FILE = 2;
const sftpCode = (err: unknown) => (err as { code?: unknown }).code;

/**
 * The same operations over SFTP (pinned host key): no shell anywhere, so no path or value can be
 * read as a command, and values travel only inside the encrypted SFTP writes.
 */
export function sshSecretHost(target: SshHostTarget): SecretHost {
  const ssh = new NodeSSH();
  let session: Promise<SFTPWrapper> | undefined;
  const sftp = (): Promise<SFTPWrapper> => {
    session ??= (async () => {
      const pinned = pinnedHostKeys(target.knownHosts, target.host, target.port);
      if (!pinned.size) throw new OpsError('CONFIG_INVALID', `known_hosts has no host key for ${target.host}:${target.port}.`);
      const verify = hostKeyVerifier(pinned);
      await ssh.connect({ host: target.host, port: target.port, username: target.username, privateKey: target.privateKey, hostVerifier: (key: Buffer) => verify(key), readyTimeout: 15_000 });
      return ssh.requestSFTP();
    })();
    return session;
  };
  const call = <T>(fn: (s: SFTPWrapper, done: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> =>
    sftp().then((s) => new Promise<T>((ok, fail) => fn(s, (err, value) => (err ? fail(err) : ok(value as T)))));
  // The server's message may name the path, never a value (values are never in a path).
  const fail = (what: string, path: string, err: unknown) => new OpsError('HOST_FILES_FAILED', `Could not ${what} ${path} on ${target.host}: ${(err as Error).message.slice(0, 200)}`);
  return {
    where: `ssh://${target.username}@${target.host}:${target.port}`,
    async read(path) {
      checkSecretPath(path);
      try {
        return String(await call<Buffer | string>((c, done) => c.readFile(path, 'utf8', done)));
      } catch (err) {
        if (sftpCode(err) === SFTP_NO_SUCH_FILE) return undefined;
        throw fail('read', path, err);
      }
    },
    async writeInPlace(path, value) {
      checkSecretPath(path);
      const data = Buffer.from(value, 'utf8');
      try {
        // r+ keeps the inode; only a missing file is created (exclusively, 0600).
        const handle = await call<Buffer>((c, done) => c.open(path, 'r+', done)).catch(async (err: unknown) => {
          if (sftpCode(err) !== SFTP_NO_SUCH_FILE) throw err;
          return call<Buffer>((c, done) => c.open(path, 'wx', { mode: 0o600 }, done));
        });
        try {
          if (data.length) await call<void>((c, done) => c.write(handle, data, 0, data.length, 0, done));
          await call<void>((c, done) => c.fsetstat(handle, { size: data.length, mode: 0o600 }, done));
        } finally {
          await call<void>((c, done) => c.close(handle, done)).catch(() => undefined);
        }
      } catch (err) {
        throw fail('write', path, err);
      }
    },
    async remove(path) {
      checkSecretPath(path);
      try {
        await call<void>((c, done) => c.unlink(path, done));
        return true;
      } catch (err) {
        if (sftpCode(err) === SFTP_NO_SUCH_FILE) return false;
        throw fail('remove', path, err);
      }
    },
    async modifiedAt(path) {
      checkSecretPath(path);
      const st = await call<{ mtime: number }>((c, done) => c.stat(path, done)).catch(() => undefined);
      return st ? st.mtime * 1000 : undefined;
    },
    async ensureDir(path) {
      checkSecretPath(path);
      try {
        await ssh.mkdir(path, 'sftp', await sftp());
        await call<void>((c, done) => c.chmod(path, 0o700, done));
      } catch (err) {
        throw fail('create', path, err);
      }
    },
    async close() {
      if (session) await session.then((s) => s.end()).catch(() => undefined);
      session = undefined;
      ssh.dispose();
    },
  };
}

/** The stack host: local for unix:// and tcp:// Engines, the SSH host for ssh://. */
export function stackSecretHost(config: Pick<Config, 'stack' | 'ssh'>): SecretHost {
  const url = new URL(config.stack.docker);
  if (url.protocol !== 'ssh:') return localSecretHost();
  const { privateKeyFile, knownHostsFile } = config.ssh;
  if (!privateKeyFile || !knownHostsFile) throw new OpsError('CONFIG_INVALID', 'stack.docker uses ssh://, so ssh.privateKeyFile and ssh.knownHostsFile must be set.');
  return sshSecretHost({
    host: url.hostname,
    port: url.port ? Number(url.port) : 22,
    username: decodeURIComponent(url.username),
    privateKey: readFileSync(privateKeyFile, 'utf8'),
    knownHosts: readFileSync(knownHostsFile, 'utf8'),
  });
}
