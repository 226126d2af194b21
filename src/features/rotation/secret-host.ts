import { open, rm, stat, mkdir, chmod } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { execFile } from 'node:child_process';
import { NodeSSH } from 'node-ssh';
import type { Config } from '../../config/schema.ts';
import { OpsError } from '../../errors.ts';
import { hostKeyVerifier, pinnedHostKeys } from '../../worker/docker-client.ts';
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

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

export interface SshHostTarget {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly privateKey: string;
  readonly knownHosts: string;
}

/** The same operations over SSH (pinned host key); values travel on stdin, never in the command. */
export function sshSecretHost(target: SshHostTarget): SecretHost {
  let conn: Promise<NodeSSH> | undefined;
  const connect = (): Promise<NodeSSH> => {
    conn ??= (async () => {
      const pinned = pinnedHostKeys(target.knownHosts, target.host, target.port);
      if (!pinned.size) throw new OpsError('CONFIG_INVALID', `known_hosts has no host key for ${target.host}:${target.port}.`);
      const verify = hostKeyVerifier(pinned);
      return new NodeSSH().connect({ host: target.host, port: target.port, username: target.username, privateKey: target.privateKey, hostVerifier: (key: Buffer) => verify(key), readyTimeout: 15_000 });
    })();
    return conn;
  };
  const run = async (command: string, stdin?: string) => {
    const r = await (await connect()).execCommand(command, stdin === undefined ? {} : { stdin });
    return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
  };
  const fail = (what: string, path: string, stderr: string) => new OpsError('JOB_FAILED', `Could not ${what} ${path} on ${target.host}: ${stderr.trim().slice(0, 200)}`);
  return {
    where: `${target.username}@${target.host}`,
    async read(path) {
      checkSecretPath(path);
      const r = await run(`if [ -e ${quote(path)} ]; then cat -- ${quote(path)}; else exit 3; fi`);
      if (r.code === 3) return undefined;
      if (r.code !== 0) throw fail('read', path, r.stderr);
      return r.stdout;
    },
    async writeInPlace(path, value) {
      checkSecretPath(path);
      const len = Buffer.byteLength(value, 'utf8');
      const p = quote(path);
      const r = await run(`umask 077 && mkdir -p -- ${quote(dirname(path))} && dd of=${p} conv=notrunc status=none && truncate -s ${len} -- ${p} && chmod 600 -- ${p}`, value);
      if (r.code !== 0) throw fail('write', path, r.stderr);
    },
    async remove(path) {
      checkSecretPath(path);
      const r = await run(`if [ -e ${quote(path)} ]; then rm -f -- ${quote(path)}; else exit 3; fi`);
      if (r.code === 3) return false;
      if (r.code !== 0) throw fail('remove', path, r.stderr);
      return true;
    },
    async modifiedAt(path) {
      checkSecretPath(path);
      const r = await run(`stat -c %Y -- ${quote(path)}`);
      return r.code === 0 ? Number(r.stdout.trim()) * 1000 : undefined;
    },
    async ensureDir(path) {
      checkSecretPath(path);
      const r = await run(`mkdir -p -m 700 -- ${quote(path)} && chmod 700 -- ${quote(path)}`);
      if (r.code !== 0) throw fail('create', path, r.stderr);
    },
    async exec(argv, stdin) {
      return run(argv.map(quote).join(' '), stdin);
    },
    async close() {
      if (conn) (await conn.catch(() => undefined))?.dispose();
      conn = undefined;
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
