import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { NodeSSH } from 'node-ssh';
import type { Config } from '../../../shared/config/schema.ts';
import { OpsError } from '../../../shared/errors.ts';
import { hostKeyVerifier, pinnedHostKeys } from '../../../host/docker-client.ts';

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * One host a rotation works on: the worker's own (`local`) or one reached over SSH with a pinned
 * host key. Programs are given as argv; over SSH each argument is single-quoted, so nothing in them
 * is read by the remote shell. Fits the rotation engine's `SecretHost.exec`.
 */
export interface CommandHost {
  readonly where: string;
  exec(argv: readonly string[], stdin?: string): Promise<ExecResult>;
  /** Runs a long command, handing each stdout line to `onLine`; `stop()` ends it. */
  stream(argv: readonly string[], onLine: (line: string) => void): { done: Promise<number>; stop(): void };
  close(): Promise<void>;
}

export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

function lines(onLine: (line: string) => void): (chunk: Buffer | string) => void {
  let buf = '';
  return (chunk) => {
    buf += chunk.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  };
}

export function localHost(): CommandHost {
  return {
    where: 'local',
    exec(argv, stdin) {
      return new Promise((resolve, reject) => {
        const [file, ...args] = argv;
        if (!file) return reject(new Error('empty argv'));
        const child = spawn(file, args, { stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
        child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
        child.once('error', reject);
        child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
        if (stdin !== undefined && child.stdin) {
          child.stdin.on('error', () => undefined);
          child.stdin.end(stdin);
        }
      });
    },
    stream(argv, onLine) {
      const [file, ...args] = argv;
      const child = spawn(file ?? 'false', args, { stdio: ['ignore', 'pipe', 'ignore'] });
      child.stdout.on('data', lines(onLine));
      const done = new Promise<number>((resolve) => {
        child.once('error', () => resolve(-1));
        child.once('close', (code) => resolve(code ?? -1));
      });
      return { done, stop: () => void child.kill('SIGTERM') };
    },
    close: async () => undefined,
  };
}

export interface SshReach {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly privateKey: string;
  readonly pinnedKeys: ReadonlySet<string>;
  readonly timeoutMs: number;
}

export async function sshHost(reach: SshReach): Promise<CommandHost> {
  const ssh = new NodeSSH();
  const where = `ssh://${reach.username}@${reach.host}:${reach.port}`;
  try {
    await ssh.connect({
      host: reach.host,
      port: reach.port,
      username: reach.username,
      privateKey: reach.privateKey,
      hostVerifier: hostKeyVerifier(new Set(reach.pinnedKeys)),
      readyTimeout: reach.timeoutMs,
    });
  } catch (err) {
    ssh.dispose();
    throw new OpsError('WG_HOST_UNREACHABLE', `Cannot reach ${where} over SSH (${(err as Error).message.slice(0, 160)}). Nothing was changed there.`, { cause: err });
  }
  const command = (argv: readonly string[]) => argv.map(shellQuote).join(' ');
  return {
    where,
    async exec(argv, stdin) {
      const r = await ssh.execCommand(command(argv), stdin === undefined ? {} : { stdin });
      return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
    stream(argv, onLine) {
      let channel: { close(): void } | undefined;
      let stopped = false;
      const done = ssh
        .execCommand(command(argv), {
          onStdout: lines(onLine),
          onChannel: (c) => {
            channel = c;
            if (stopped) c.close();
          },
        })
        .then((r) => r.code ?? -1, () => -1);
      // Closing the channel leaves the remote program writing into a closed pipe: it ends on SIGPIPE.
      return { done, stop: () => { stopped = true; channel?.close(); } };
    },
    async close() {
      ssh.dispose();
    },
  };
}

/** A target name stands for its host: ssh:// as given in its `docker`, unix:// is this worker's own. */
export function resolveReach(reach: string, config: Pick<Config, 'targets'>): string {
  if (reach === 'local' || reach.startsWith('ssh://')) return reach;
  const t = config.targets?.find((x) => x.name === reach);
  if (!t) throw new OpsError('CONFIG_INVALID', `A WireGuard endpoint names target \`${reach}\`, which is not in \`targets\`.`);
  if (t.docker.startsWith('ssh://')) return t.docker;
  if (t.docker.startsWith('unix://')) return 'local';
  throw new OpsError('CONFIG_INVALID', `Target \`${reach}\` is reached over tcp://, which carries no shell: give the WireGuard endpoint an ssh:// address.`);
}

/** Opens `local`, `ssh://user@host[:port]` or a target's host, with the worker's SSH key and pinned known_hosts. */
export async function openHost(given: string, config: Pick<Config, 'ssh' | 'targets'>, timeoutMs = 10_000): Promise<CommandHost> {
  const reach = resolveReach(given, config);
  if (reach === 'local') return localHost();
  const url = new URL(reach);
  const { privateKeyFile, knownHostsFile } = config.ssh;
  if (!privateKeyFile || !knownHostsFile) {
    throw new OpsError('CONFIG_INVALID', `${reach} needs ssh.privateKeyFile and ssh.knownHostsFile in the configuration (host keys are pinned, never trusted on first use).`);
  }
  const port = url.port ? Number(url.port) : 22;
  const pinnedKeys = pinnedHostKeys(await readFile(knownHostsFile, 'utf8'), url.hostname, port);
  if (!pinnedKeys.size) throw new OpsError('CONFIG_INVALID', `${knownHostsFile} has no host key for ${url.hostname}:${port}. Add it after checking its fingerprint.`);
  return sshHost({ host: url.hostname, port, username: decodeURIComponent(url.username), privateKey: await readFile(privateKeyFile, 'utf8'), pinnedKeys, timeoutMs });
}
