import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { NodeSSH } from 'node-ssh';
import type { Config } from '../../shared/config/schema.ts';
import { OpsError } from '../../shared/errors.ts';
import { hostKeyVerifier, pinnedHostKeys } from '../../host/docker-client.ts';

/** Files on the stack host: the compose files (read) and the rollback overlay (written). */
export interface StackFiles {
  readonly where: string;
  read(path: string): Promise<string | undefined>;
  /** Atomic: the file is either the old or the new content, never half written. */
  write(path: string, content: string): Promise<void>;
  remove(path: string): Promise<boolean>;
  close(): Promise<void>;
}

// Paths go into a remote shell command, so they are held to a plain shape instead of being escaped.
const SAFE_PATH = /^\/[A-Za-z0-9._/@+-]+$/;

function checkPath(path: string): void {
  if (!SAFE_PATH.test(path) || path.split('/').includes('..')) {
    throw new OpsError('CONFIG_INVALID', `The stack file path ${JSON.stringify(path.slice(0, 200))} must be absolute and use only letters, digits and ._/@+-.`);
  }
}

export function localStackFiles(): StackFiles {
  return {
    where: 'worker host',
    async read(given) {
      const path = resolve(given);
      checkPath(path);
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async write(given, content) {
      const path = resolve(given);
      checkPath(path);
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(tmp, content, { mode: 0o644 });
      await rename(tmp, path);
    },
    async remove(given) {
      const path = resolve(given);
      checkPath(path);
      try {
        await rm(path);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
    },
    async close() {},
  };
}

export interface SshTarget {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly privateKey: string;
  readonly knownHosts: string;
}

/** Files on a remote stack host over SSH, with the same pinned host key the Docker connection uses. */
export function sshStackFiles(target: SshTarget): StackFiles {
  let conn: Promise<NodeSSH> | undefined;
  const connect = (): Promise<NodeSSH> => {
    conn ??= (async () => {
      const pinned = pinnedHostKeys(target.knownHosts, target.host, target.port);
      if (!pinned.size) throw new OpsError('CONFIG_INVALID', `known_hosts has no host key for ${target.host}:${target.port}.`);
      const verify = hostKeyVerifier(pinned);
      return new NodeSSH().connect({
        host: target.host,
        port: target.port,
        username: target.username,
        privateKey: target.privateKey,
        hostVerifier: (key: Buffer) => verify(key),
        readyTimeout: 15_000,
      });
    })();
    return conn;
  };
  const run = async (command: string, stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> => {
    const ssh = await connect();
    return ssh.execCommand(command, stdin === undefined ? {} : { stdin });
  };
  return {
    where: `${target.username}@${target.host}`,
    async read(path) {
      checkPath(path);
      const r = await run(`if [ -e '${path}' ]; then cat -- '${path}'; else exit 3; fi`);
      if (r.code === 3) return undefined;
      if (r.code !== 0) throw new OpsError('JOB_FAILED', `Could not read ${path} on ${target.host}: ${r.stderr.trim().slice(0, 200)}`);
      return r.stdout.endsWith('\n') ? r.stdout : `${r.stdout}\n`;
    },
    async write(path, content) {
      checkPath(path);
      const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
      const r = await run(`mkdir -p -- '${dirname(path)}' && cat > '${tmp}' && chmod 644 '${tmp}' && mv -f -- '${tmp}' '${path}'`, content);
      if (r.code !== 0) throw new OpsError('JOB_FAILED', `Could not write ${path} on ${target.host}: ${r.stderr.trim().slice(0, 200)}`);
    },
    async remove(path) {
      checkPath(path);
      const r = await run(`if [ -e '${path}' ]; then rm -f -- '${path}'; else exit 3; fi`);
      if (r.code === 3) return false;
      if (r.code !== 0) throw new OpsError('JOB_FAILED', `Could not remove ${path} on ${target.host}: ${r.stderr.trim().slice(0, 200)}`);
      return true;
    },
    async close() {
      if (conn) (await conn.catch(() => undefined))?.dispose();
      conn = undefined;
    },
  };
}

/** Local files when the Engine is local (unix:// or tcp://), the SSH host's files for ssh://. */
export function stackFilesFor(config: Pick<Config, 'stack' | 'ssh'>): StackFiles {
  const url = new URL(config.stack.docker);
  if (url.protocol !== 'ssh:') return localStackFiles();
  const { privateKeyFile, knownHostsFile } = config.ssh;
  if (!privateKeyFile || !knownHostsFile) throw new OpsError('CONFIG_INVALID', 'stack.docker uses ssh://, so ssh.privateKeyFile and ssh.knownHostsFile must be set.');
  return sshStackFiles({
    host: url.hostname,
    port: url.port ? Number(url.port) : 22,
    username: decodeURIComponent(url.username),
    privateKey: readFileSync(privateKeyFile, 'utf8'),
    knownHosts: readFileSync(knownHostsFile, 'utf8'),
  });
}

/** Where the overlay lives: `rollback.overlayPath`, else rollback.yml next to the first compose file. */
export function overlayPathFor(config: Pick<Config, 'stack' | 'rollback'>): string | undefined {
  const first = config.stack.composeFiles[0];
  const configured = config.rollback.overlayPath;
  if (configured && isAbsolute(configured)) return configured;
  if (!first) return undefined;
  return join(dirname(first), configured ?? 'rollback.yml');
}
