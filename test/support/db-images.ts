// A Debian image with real PostgreSQL 15, Redis 7 and MariaDB 10.11, built without any registry:
//
//   const image = await ensureDbImage();   // 'cdb-test/debian-db:1'
//   // compose: image: <image>, command: ["postgres"] | ["redis"] | ["mariadb"]
//
// The rootfs comes from `debootstrap --variant=minbase` (Debian's mirror is the one network
// source this machine has) and is imported with `docker import`. The first build takes a few
// minutes; the image is cached by tag, and the rootfs tarball under /var/cache/cdb-test, so a
// removed image is re-imported in seconds. The entrypoint (db-entrypoint.sh) mimics the
// official images' *_FILE variables. Bump DB_RECIPE_VERSION whenever the recipe changes.
import { copyFile, chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageExists, once, runCommand } from './images.ts';

export const DB_RECIPE_VERSION = '1';

/**
 * The command that tells the real PostgreSQL server is up, run inside its container. The
 * entrypoint's first start is a temporary server on the Unix socket only (it creates POSTGRES_DB,
 * then stops), so a query over the socket can reach it and the next one find the server
 * "starting up"; the real server is the only one that listens on TCP.
 */
export const PG_SERVING = ['pg_isready', '-q', '-h', '127.0.0.1', '-U', 'postgres'];
export const DB_IMAGE = `cdb-test/debian-db:${DB_RECIPE_VERSION}`;

const CACHE_DIR = process.env.CDB_TEST_CACHE ?? '/var/cache/cdb-test';
const MIRROR = process.env.CDB_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
const PACKAGES = [
  'postgresql-15', 'postgresql-client-15', 'redis-server', 'redis-tools',
  'mariadb-server', 'mariadb-client', 'procps', 'ca-certificates', 'curl',
];
const ENTRYPOINT = join(dirname(fileURLToPath(import.meta.url)), 'db-entrypoint.sh');

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** Makes the rootfs tarball once per machine; a half-made one is never left under the final name. */
async function ensureRootfsTarball(): Promise<string> {
  const tarball = join(CACHE_DIR, `debian-db-${DB_RECIPE_VERSION}.tar`);
  if (await exists(tarball)) return tarball;
  const missing: string[] = [];
  for (const tool of ['debootstrap', 'tar']) {
    try {
      await runCommand('sh', ['-c', 'command -v "$1"', 'sh', tool]);
    } catch {
      missing.push(tool);
    }
  }
  if (missing.length > 0) {
    throw new Error(`cannot build ${DB_IMAGE}: ${missing.join(', ')} not installed -> run bash scripts/ensure-services.sh (as root)`);
  }
  const root = join(CACHE_DIR, `rootfs-db-${DB_RECIPE_VERSION}-${process.pid}`);
  await mkdir(CACHE_DIR, { recursive: true });
  await rm(root, { recursive: true, force: true });
  try {
    await runCommand('debootstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, 'bookworm', root, MIRROR], { timeoutMs: 900_000 });
    // Debian's packages create and start clusters of their own; the entrypoint makes fresh ones.
    await rm(join(root, 'var/lib/postgresql/15'), { recursive: true, force: true });
    await rm(join(root, 'etc/postgresql/15'), { recursive: true, force: true });
    await rm(join(root, 'var/lib/mysql'), { recursive: true, force: true });
    await rm(join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
    await rm(join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
    await copyFile(ENTRYPOINT, join(root, 'usr/local/bin/cdb-db-entrypoint'));
    await chmod(join(root, 'usr/local/bin/cdb-db-entrypoint'), 0o755);
    const partial = `${tarball}.partial-${process.pid}`;
    await runCommand('tar', ['--numeric-owner', '-C', root, '-cf', partial, '.'], { timeoutMs: 600_000 });
    await rename(partial, tarball);
    return tarball;
  } catch (err) {
    throw new Error(`cannot build ${DB_IMAGE}: ${(err as Error).message.slice(0, 2000)}`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Builds the image under `tag` from the cached (or freshly made) rootfs. */
export async function buildDbImage(tag: string): Promise<void> {
  const tarball = await ensureRootfsTarball();
  await runCommand('docker', [
    'import',
    '--change', 'ENTRYPOINT ["/usr/local/bin/cdb-db-entrypoint"]',
    '--change', 'CMD ["sh"]',
    '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8',
    '--change', `LABEL cdb.test.recipe=debian-db-${DB_RECIPE_VERSION}`,
    '--message', `cdb-chatops test image debian-db recipe ${DB_RECIPE_VERSION}`,
    tarball,
    tag,
  ], { timeoutMs: 600_000 });
}

/** The database image's tag, building it when missing. Concurrent callers share one build. */
export const ensureDbImage: () => Promise<string> = once(async () => {
  if (await imageExists(DB_IMAGE)) return DB_IMAGE;
  await buildDbImage(DB_IMAGE);
  if (!(await imageExists(DB_IMAGE))) throw new Error(`docker import reported success but ${DB_IMAGE} is not present`);
  return DB_IMAGE;
});
