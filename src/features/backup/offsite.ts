import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { NodeSSH } from 'node-ssh';
import type { BackupConfig } from '../../shared/config/backup-schema.ts';
import type { BackupManifest, OffsiteState } from '../../shared/contracts/backup.ts';
import { isBackupName } from '../../shared/contracts/backup.ts';
import { hostKeyVerifier, pinnedHostKeys } from '../../host/docker-client.ts';
import type { BackupEnv } from './env.ts';
import { MANIFEST } from './store.ts';

type Offsite = NonNullable<BackupConfig['offsite']>;

// Paths are built only from the validated config dir and validated backup/file names, and quoted.
const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

async function connect(o: Offsite): Promise<NodeSSH> {
  const pinned = pinnedHostKeys(await readFile(o.knownHostsFile, 'utf8'), o.host, o.port);
  if (!pinned.size) throw new Error(`${o.knownHostsFile} has no host key for ${o.host}:${o.port}`);
  return new NodeSSH().connect({ host: o.host, port: o.port, username: o.username, privateKey: await readFile(o.privateKeyFile, 'utf8'), hostVerifier: hostKeyVerifier(pinned), readyTimeout: 15_000 });
}

async function run(ssh: NodeSSH, cmd: string): Promise<string> {
  const r = await ssh.execCommand(cmd);
  if (r.code !== 0) throw new Error(`${cmd.split(' ')[0] ?? 'command'} on the off-site host failed: ${r.stderr.trim().slice(0, 200)}`);
  return r.stdout;
}

/**
 * Copies a backup to the off-site host over SFTP (host key pinned), into `<dir>/.partial-<name>`,
 * checks every file's size (SFTP stat) and sha256 (sha256sum on the host) against the manifest,
 * then renames it into place. A failure leaves no copy listed there and is reported, not fatal:
 * the local backup is still good.
 */
export async function copyOffsite(env: BackupEnv, m: BackupManifest): Promise<OffsiteState> {
  const o = env.config.backup.offsite as Offsite;
  const final = `${o.dir}/${m.name}`;
  const partial = `${o.dir}/.partial-${m.name}`;
  let ssh: NodeSSH | undefined;
  let state: OffsiteState;
  try {
    env.progress(`Copying ${m.name} to ${o.host}…`);
    ssh = await connect(o);
    await run(ssh, `rm -rf -- ${q(partial)} && mkdir -p -m 700 -- ${q(partial)}`);
    const sftp = await ssh.requestSFTP();
    try {
      for (const file of [...m.artifacts.map((a) => a.file), MANIFEST]) {
        await pipeline(createReadStream(env.store.path(m.name, file)), sftp.createWriteStream(`${partial}/${file}`, { mode: 0o600 }));
      }
      for (const a of m.artifacts) {
        const size = await new Promise<number>((resolve, reject) => sftp.stat(`${partial}/${a.file}`, (err, s) => (err ? reject(err) : resolve(s.size))));
        if (size !== a.bytes) throw new Error(`${a.file} has ${size} bytes off-site, ${a.bytes} here`);
      }
    } finally {
      sftp.end();
    }
    const sums = await run(ssh, `cd -- ${q(partial)} && sha256sum -- ${m.artifacts.map((a) => q(a.file)).join(' ')}`);
    for (const a of m.artifacts) {
      const line = sums.split('\n').find((l) => l.trim().endsWith(` ${a.file}`) || l.trim().endsWith(`*${a.file}`));
      if (line?.split(/\s+/)[0] !== a.sha256) throw new Error(`${a.file}: the off-site sha256 differs from the manifest`);
    }
    await run(ssh, `rm -rf -- ${q(final)} && mv -- ${q(partial)} ${q(final)}`);
    state = { host: o.host, path: final, verified: true, at: new Date().toISOString() };
  } catch (err) {
    env.log.warn({ err: { message: (err as Error).message } }, 'off-site copy failed');
    if (ssh) await run(ssh, `rm -rf -- ${q(partial)}`).catch(() => undefined);
    state = { host: o.host, path: final, verified: false, at: new Date().toISOString(), error: (err as Error).message.slice(0, 200) };
  } finally {
    ssh?.dispose();
  }
  await env.store.setOffsite(m.name, state);
  return state;
}

/** Removes pruned backups from the off-site host too (best effort; reported in the log). */
export async function pruneOffsite(env: BackupEnv, names: readonly string[]): Promise<void> {
  const o = env.config.backup.offsite;
  if (!o || !names.length) return;
  const safe = names.filter(isBackupName);
  let ssh: NodeSSH | undefined;
  try {
    ssh = await connect(o);
    await run(ssh, `rm -rf -- ${safe.map((n) => q(`${o.dir}/${n}`)).join(' ')}`);
  } catch (err) {
    env.log.warn({ err: { message: (err as Error).message } }, 'off-site prune failed');
  } finally {
    ssh?.dispose();
  }
}
