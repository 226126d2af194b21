// Local test images, built without any registry and cached by tag.
//
//   const images = await ensureTestImages();   // { busybox: 'cdb-test/busybox:1' }
//
// The busybox image is a rootfs made from the host's static /bin/busybox
// (Debian package busybox-static) and imported with `docker import`.
// Bump BUSYBOX_RECIPE_VERSION whenever the recipe below changes: the tag
// carries it, so a changed recipe never reuses a stale cached image.
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile, copyFile, access } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BUSYBOX_RECIPE_VERSION = '1';
export const BUSYBOX_IMAGE = `cdb-test/busybox:${BUSYBOX_RECIPE_VERSION}`;

export interface TestImages {
  /** busybox rootfs image; CMD ["sh"], users root and app (uid 1000). */
  busybox: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly args: readonly string[],
    readonly stdout: string,
    readonly stderr: string,
    readonly exitCode: number | string | null,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

/** Runs a program (no shell) and resolves with its output; rejects with CommandError. */
export function runCommand(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        timeout: opts.timeoutMs ?? 300_000,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (err) {
          const code = err.code ?? null;
          const detail = stderr.trim() || stdout.trim() || err.message;
          reject(
            new CommandError(
              `${file} ${args.join(' ')} failed (${String(code)}): ${detail}`,
              file,
              args,
              stdout,
              stderr,
              code,
            ),
          );
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}

const ENSURE_HINT = 'run `bash scripts/ensure-services.sh` (as root) to install and start docker';

/** Throws a clear error when the docker CLI or engine is not usable. */
export async function assertDockerAvailable(): Promise<void> {
  try {
    await runCommand('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 20_000 });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`Docker engine is not reachable: ${why}\n-> ${ENSURE_HINT}`);
  }
}

export async function imageExists(tag: string): Promise<boolean> {
  try {
    await runCommand('docker', ['image', 'inspect', '--format', '{{.Id}}', tag], { timeoutMs: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/** Applets every test may rely on; the image links every applet busybox has. */
export const REQUIRED_APPLETS = [
  'sh', 'ls', 'cat', 'sleep', 'echo', 'wget', 'nc', 'httpd', 'true', 'false',
  'id', 'touch', 'mkdir', 'date', 'env', 'grep',
] as const;

const BUSYBOX_BIN = '/bin/busybox';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:1000:1000:app:/home/app:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  '',
].join('\n');

const GROUP = ['root:x:0:', 'app:x:1000:', 'nogroup:x:65534:', ''].join('\n');

async function listApplets(): Promise<string[]> {
  const { stdout } = await runCommand(BUSYBOX_BIN, ['--list']);
  const applets = stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => /^[A-Za-z0-9_.[-]+$/.test(s) && s !== 'busybox');
  const missing = REQUIRED_APPLETS.filter((a) => !applets.includes(a));
  if (missing.length > 0) {
    throw new Error(`${BUSYBOX_BIN} lacks applets: ${missing.join(', ')}`);
  }
  return applets;
}

/** Builds the busybox image under any tag (no cache check). */
export async function buildBusyboxImage(tag: string): Promise<void> {
  try {
    await access(BUSYBOX_BIN, fsConstants.X_OK);
  } catch {
    throw new Error(`${BUSYBOX_BIN} not found: install busybox-static -> ${ENSURE_HINT}`);
  }
  const applets = await listApplets();
  const work = await mkdtemp(join(tmpdir(), 'cdb-busybox-'));
  try {
    const root = join(work, 'rootfs');
    for (const dir of ['bin', 'etc', 'root', 'home/app', 'tmp', 'var/tmp', 'www', 'proc', 'sys', 'dev']) {
      await mkdir(join(root, dir), { recursive: true });
    }
    await chmod(join(root, 'tmp'), 0o1777);
    await chmod(join(root, 'var/tmp'), 0o1777);
    await chmod(join(root, 'root'), 0o700);
    await copyFile(BUSYBOX_BIN, join(root, 'bin/busybox'));
    await chmod(join(root, 'bin/busybox'), 0o755);
    for (const applet of applets) {
      await symlink('busybox', join(root, 'bin', applet));
    }
    // Some scripts use absolute /usr/bin or /sbin paths.
    await symlink('bin', join(root, 'sbin'));
    await mkdir(join(root, 'usr'), { recursive: true });
    await symlink('../bin', join(root, 'usr/bin'));
    await symlink('../bin', join(root, 'usr/sbin'));
    await writeFile(join(root, 'etc/passwd'), PASSWD);
    await writeFile(join(root, 'etc/group'), GROUP);
    await writeFile(join(root, 'etc/cdb-test-image'), `busybox recipe ${BUSYBOX_RECIPE_VERSION}\n`);

    const tarball = join(work, 'rootfs.tar');
    await runCommand('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tarball, '.']);
    await runCommand('docker', [
      'import',
      '--change', 'CMD ["sh"]',
      '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--change', 'WORKDIR /',
      '--change', `LABEL cdb.test.recipe=busybox-${BUSYBOX_RECIPE_VERSION}`,
      '--message', `cdb-chatops test image busybox recipe ${BUSYBOX_RECIPE_VERSION}`,
      tarball,
      tag,
    ]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface EnsureImageResult {
  tag: string;
  built: boolean;
}

/** Builds the image unless a tag with the current recipe version exists. */
export async function ensureBusyboxImage(): Promise<EnsureImageResult> {
  if (await imageExists(BUSYBOX_IMAGE)) return { tag: BUSYBOX_IMAGE, built: false };
  await buildBusyboxImage(BUSYBOX_IMAGE);
  if (!(await imageExists(BUSYBOX_IMAGE))) {
    throw new Error(`docker import reported success but ${BUSYBOX_IMAGE} is not present`);
  }
  return { tag: BUSYBOX_IMAGE, built: true };
}

/**
 * Runs `build` once per process: concurrent callers share the same promise, and a failure is
 * forgotten so the next caller tries again.
 */
export function once<T>(build: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null;
  return () => {
    pending ??= build().catch((err: unknown) => {
      pending = null;
      throw err;
    });
    return pending;
  };
}

/**
 * Ensures all local test images exist (building the missing ones) and returns
 * their tags. Concurrent callers in one process share the same work.
 */
export const ensureTestImages: () => Promise<TestImages> = once(async () => {
  await assertDockerAvailable();
  const busybox = await ensureBusyboxImage();
  return { busybox: busybox.tag };
});
