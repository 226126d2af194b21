// The project's own Dockerfile, built in `npm test` without a container registry:
//
//   const image = await ensureCdbImage();   // 'cdb-test/cdb-chatops:<content hash>'
//
// NODE_IMAGE (the Dockerfile's base) is `cdb-test/node-base`: the busybox test image plus this
// machine's own `node` binary, the shared libraries `ldd` names for it, its npm and the machine's CA
// bundle, with a `node` user (uid 1000) as in the official node images. Why this and not a
// debootstrap rootfs: see compose/README.md ("The image in CI"). Both images are cached by tag; the
// app image's tag is a hash of everything the build context admits, and Docker's layer cache keeps
// the `npm ci` layer while package-lock.json is unchanged.
import { createHash } from 'node:crypto';
import { chmod, copyFile, cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBusyboxImage, imageExists, once, runCommand } from './images.ts';

export const NODE_BASE_RECIPE_VERSION = '1';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** What .dockerignore admits (an allowlist); the hash covers exactly these. */
const CONTEXT = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'Dockerfile', 'src', 'commands', 'jobs', 'runbooks'];

async function nodeBaseTag(): Promise<string> {
  const { stdout } = await runCommand('node', ['--version']);
  return `cdb-test/node-base:${NODE_BASE_RECIPE_VERSION}-${stdout.trim().replace(/^v/, '')}`;
}

/** The dynamic libraries the node binary loads, as absolute paths (from ldd). */
async function nodeLibraries(nodePath: string): Promise<string[]> {
  const { stdout } = await runCommand('ldd', [nodePath]);
  return stdout.split('\n').flatMap((line) => {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    return m?.[1] ? [m[1]] : [];
  });
}

async function buildNodeBase(tag: string): Promise<void> {
  const { tag: busybox } = await ensureBusyboxImage();
  const { stdout: which } = await runCommand('sh', ['-c', 'command -v node']);
  const nodePath = which.trim();
  const { stdout: npmRoot } = await runCommand('npm', ['root', '-g']);
  const dir = await mkdtemp(join(tmpdir(), 'cdb-node-base-'));
  try {
    const fs = join(dir, 'rootfs');
    await mkdir(join(fs, 'usr/local/bin'), { recursive: true });
    await copyFile(nodePath, join(fs, 'usr/local/bin/node'));
    await chmod(join(fs, 'usr/local/bin/node'), 0o755);
    for (const lib of await nodeLibraries(nodePath)) {
      await mkdir(join(fs, dirname(lib)), { recursive: true });
      await copyFile(lib, join(fs, lib)); // follows the symlink: the real file under the linked name
    }
    await cp(join(npmRoot.trim(), 'npm'), join(fs, 'usr/local/lib/node_modules/npm'), { recursive: true, dereference: true });
    await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(fs, 'usr/local/bin/npm'));
    await mkdir(join(fs, 'etc/ssl/certs'), { recursive: true });
    // The machine's trust store (it may include a TLS-inspecting proxy's CA the npm registry is reached through).
    await copyFile('/etc/ssl/certs/ca-certificates.crt', join(fs, 'etc/ssl/certs/ca-certificates.crt'));
    await writeFile(join(fs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/home/node:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
    await writeFile(join(fs, 'etc/group'), 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n');
    await mkdir(join(fs, 'home/node'), { recursive: true });
    await writeFile(join(dir, 'Dockerfile'), [
      `FROM ${busybox}`,
      'COPY rootfs/ /',
      'RUN chown 1000:1000 /home/node',
      'ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt',
      `LABEL cdb.test.recipe=node-base-${NODE_BASE_RECIPE_VERSION}`,
      'CMD ["node"]',
      '',
    ].join('\n'));
    await runCommand('docker', ['build', '-q', '-t', tag, dir], { timeoutMs: 600_000 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function files(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => null);
  if (!entries) return [path];
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? files(join(path, e.name)) : Promise.resolve([join(path, e.name)]))));
  return nested.flat();
}

async function contextHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const top of CONTEXT) {
    for (const file of (await files(join(ROOT, top))).sort()) {
      hash.update(relative(ROOT, file)).update('\0').update(await readFile(file)).update('\0');
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/** Builds (once per content) the repository's Dockerfile on the local node base. */
export const ensureCdbImage: () => Promise<string> = once(async () => {
  const base = await nodeBaseTag();
  if (!(await imageExists(base))) await buildNodeBase(base);
  const tag = `cdb-test/cdb-chatops:${await contextHash()}`;
  if (await imageExists(tag)) return tag;
  try {
    await runCommand('docker', ['build', '-q', '--build-arg', `NODE_IMAGE=${base}`, '-t', tag, '-f', join(ROOT, 'Dockerfile'), ROOT], { timeoutMs: 900_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`docker build of the Dockerfile failed: ${(e.stderr || e.message).slice(-3000)}`);
  }
  return tag;
});
