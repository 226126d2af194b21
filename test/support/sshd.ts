// A real OpenSSH server (Debian's /usr/sbin/sshd) on 127.0.0.1 and a free
// port, with throwaway host and client keys, for tests that SSH somewhere.
//
//   const sshd = await startSshd();
//   try { await ssh.connect({ host: sshd.host, port: sshd.port, username: sshd.username,
//                             privateKey: sshd.privateKey }) } finally { await sshd.stop(); }
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './images.ts';
import { freePort } from './free-port.ts';

export const SSHD_BIN = '/usr/sbin/sshd';

export interface SshdHandle {
  host: '127.0.0.1';
  port: number;
  username: 'root';
  /** Path of the client's ed25519 private key (OpenSSH format, no passphrase). */
  privateKeyPath: string;
  privateKey: string;
  /** Client public key line, as written to the authorized_keys file. */
  publicKey: string;
  /** Host key fingerprint as `ssh-keygen -lf` prints it: "SHA256:<base64 without padding>". */
  hostKeyFingerprint: string;
  /** Host public key line: "ssh-ed25519 AAAA... comment". */
  hostPublicKey: string;
  /** known_hosts file with one line: "[127.0.0.1]:PORT ssh-ed25519 AAAA...". */
  knownHostsPath: string;
  /** Temp dir holding config, keys and pid file (removed by stop()). */
  dir: string;
  /** What sshd wrote to stderr so far (it runs with -e). */
  logs(): string;
  stop(): Promise<void>;
}

/** OpenSSH-style SHA256 fingerprint of a raw public key blob (what ssh2 hands a hostVerifier). */
export function sha256Fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** Fingerprint of a public key line ("ssh-ed25519 AAAA... comment"). */
export function fingerprintOfPublicKeyLine(line: string): string {
  const b64 = line.trim().split(/\s+/)[1];
  if (!b64) throw new Error(`not a public key line: ${line}`);
  return sha256Fingerprint(Buffer.from(b64, 'base64'));
}


/** Whether a TCP connection to host:port opens within a second (sshd is listening). */
export function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** A passphrase-less ed25519 key pair at `path` and `path.pub`. */
export async function keygen(path: string, comment: string): Promise<void> {
  await runCommand('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
}

export interface SshdConfigOptions {
  readonly port: number;
  readonly listen: string;
  /** Holds ssh_host_ed25519_key and gets sshd.pid. */
  readonly dir: string;
  readonly authorizedKeysFile: string;
}

/**
 * The sshd_config of every test sshd (this one on 127.0.0.1, the two-host namespaces of
 * netns-hosts.ts): key-only root login, no PAM or DNS, SFTP, room for many parallel sessions.
 */
export function sshdConfig(o: SshdConfigOptions): string {
  return [
    `Port ${o.port}`,
    `ListenAddress ${o.listen}`,
    `HostKey ${join(o.dir, 'ssh_host_ed25519_key')}`,
    `AuthorizedKeysFile ${o.authorizedKeysFile}`,
    `PidFile ${join(o.dir, 'sshd.pid')}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'HostbasedAuthentication no',
    'StrictModes no',
    'UsePAM no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'AllowTcpForwarding yes',
    'X11Forwarding no',
    'MaxStartups 100',
    'MaxSessions 50',
    'LogLevel VERBOSE',
    'AcceptEnv LANG LC_*',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

export async function startSshd(): Promise<SshdHandle> {
  try {
    await access(SSHD_BIN, fsConstants.X_OK);
  } catch {
    throw new Error(`${SSHD_BIN} not found: run \`bash scripts/ensure-services.sh\` (installs openssh-server)`);
  }
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  const dir = await mkdtemp(join(tmpdir(), 'cdb-sshd-'));
  await chmod(dir, 0o700);
  try {
    const hostKeyPath = join(dir, 'ssh_host_ed25519_key');
    const privateKeyPath = join(dir, 'client_ed25519');
    await keygen(hostKeyPath, 'cdb-test-host');
    await keygen(privateKeyPath, 'cdb-test-client');
    const publicKey = (await readFile(`${privateKeyPath}.pub`, 'utf8')).trim();
    const privateKey = await readFile(privateKeyPath, 'utf8');
    const hostPublicKey = (await readFile(`${hostKeyPath}.pub`, 'utf8')).trim();
    await writeFile(join(dir, 'authorized_keys'), `${publicKey}\n`, { mode: 0o600 });

    const { stdout: lf } = await runCommand('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKeyPath}.pub`]);
    const hostKeyFingerprint = lf.trim().split(/\s+/)[1] ?? '';
    if (!hostKeyFingerprint.startsWith('SHA256:')) throw new Error(`unexpected ssh-keygen -lf output: ${lf}`);
    if (hostKeyFingerprint !== fingerprintOfPublicKeyLine(hostPublicKey)) {
      throw new Error('computed host key fingerprint disagrees with ssh-keygen -lf');
    }

    // The port is free when picked but could be taken before sshd binds: retry.
    let lastLogs = '';
    for (let attempt = 1; attempt <= 5; attempt++) {
      const port = await freePort();
      const configPath = join(dir, 'sshd_config');
      await writeFile(configPath, sshdConfig({ port, listen: '127.0.0.1', dir, authorizedKeysFile: join(dir, 'authorized_keys') }));
      await runCommand(SSHD_BIN, ['-t', '-f', configPath]);

      const child = spawn(SSHD_BIN, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
      let logs = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => {
        logs += chunk;
        if (logs.length > 1_000_000) logs = logs.slice(-500_000);
      });
      let exited = false;
      const exitPromise = new Promise<void>((resolve) => {
        child.once('exit', () => {
          exited = true;
          running.delete(child);
          resolve();
        });
        child.once('error', () => {
          exited = true;
          running.delete(child);
          resolve();
        });
      });
      running.add(child);
      installExitHook();

      const deadline = Date.now() + 20_000;
      let up = false;
      while (!exited && Date.now() < deadline) {
        if (await canConnect('127.0.0.1', port)) {
          up = true;
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      if (!up || exited) {
        child.kill('SIGKILL');
        await exitPromise;
        lastLogs = logs;
        continue;
      }

      const knownHostsPath = join(dir, 'known_hosts');
      const [keyType, keyB64] = hostPublicKey.split(/\s+/);
      await writeFile(knownHostsPath, `[127.0.0.1]:${port} ${keyType ?? ''} ${keyB64 ?? ''}\n`);

      let stopped = false;
      const stop = async (): Promise<void> => {
        if (stopped) return;
        stopped = true;
        if (!exited) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exitPromise;
          clearTimeout(timer);
        }
        await rm(dir, { recursive: true, force: true });
      };

      return {
        host: '127.0.0.1',
        port,
        username: 'root',
        privateKeyPath,
        privateKey,
        publicKey,
        hostKeyFingerprint,
        hostPublicKey,
        knownHostsPath,
        dir,
        logs: () => logs,
        stop,
      };
    }
    throw new Error(`sshd did not start listening after 5 attempts; last output:\n${lastLogs}`);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
