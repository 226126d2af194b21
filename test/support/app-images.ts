// A tiny versioned web app for rollback tests and the bench, built locally (no registry):
//
//   const app = await ensureAppImages();  // { v1, v2, broken } image tags
//
// Each image serves /version ("v1", "v2", "broken") with busybox httpd on 8080, has a
// HEALTHCHECK at a 1 s interval, and sets ENV APP_VERSION and LABEL cdb.test.app, so a test
// can tell what a container inherited from its image. The broken variant's healthcheck always
// fails. SIGTERM stops the app at once (a trap in its shell), so a stop never waits 10 s.
// Bump APP_RECIPE_VERSION whenever the recipe changes: the tags carry it.
import { Redis } from 'ioredis';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTestImages, imageExists, once, runCommand } from './images.ts';

export const APP_RECIPE_VERSION = '1';

export type AppVariant = 'v1' | 'v2' | 'broken';

export interface AppImages {
  readonly v1: string;
  readonly v2: string;
  readonly broken: string;
}

export function appImageTag(variant: AppVariant): string {
  return `cdb-test/app:${variant}-r${APP_RECIPE_VERSION}`;
}

function dockerfile(base: string, variant: AppVariant): string {
  const check = variant === 'broken' ? 'exit 1' : 'wget -q -O /dev/null http://127.0.0.1:8080/version || exit 1';
  return [
    `FROM ${base}`,
    'COPY www /www',
    `ENV APP_VERSION=${variant}`,
    `LABEL cdb.test.app=${variant}`,
    'EXPOSE 8080',
    `HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD ${check}`,
    `CMD ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]`,
    '',
  ].join('\n');
}

async function build(base: string, variant: AppVariant, tag: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), `cdb-app-${variant}-`));
  try {
    await mkdir(join(dir, 'www'));
    await writeFile(join(dir, 'www', 'version'), `${variant}\n`);
    await writeFile(join(dir, 'www', 'index.html'), `<p>cdb test app ${variant}</p>\n`);
    await writeFile(join(dir, 'Dockerfile'), dockerfile(base, variant));
    // The classic builder takes FROM from the local image store; nothing is pulled.
    await runCommand('docker', ['build', '-q', '-t', tag, dir], { env: { ...process.env, DOCKER_BUILDKIT: '0' } });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Builds the missing variants (cached by tag) and returns their tags. */
export const ensureAppImages: () => Promise<AppImages> = once(async () => {
  const { busybox } = await ensureTestImages();
  const variants: AppVariant[] = ['v1', 'v2', 'broken'];
  for (const v of variants) {
    const tag = appImageTag(v);
    if (!(await imageExists(tag))) await build(busybox, v, tag);
    if (!(await imageExists(tag))) throw new Error(`docker build reported success but ${tag} is not present`);
  }
  return { v1: appImageTag('v1'), v2: appImageTag('v2'), broken: appImageTag('broken') };
});

/** Removes what a rollback test or bench leaves: its rollback tags and images, manifests and Redis keys. */
export async function removeRollbackArtifacts(opts: { project: string; prefix: string; manifestDir: string; redisUrl: string }): Promise<void> {
  const refs: string[] = [];
  for (const reference of [`cdb-rollback/${opts.project}/*`, `${opts.project}/*`]) {
    const { stdout } = await runCommand('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=${reference}`]);
    refs.push(...stdout.split('\n').filter(Boolean));
  }
  if (refs.length) await runCommand('docker', ['rmi', ...refs]).catch(() => undefined);
  await rm(opts.manifestDir, { recursive: true, force: true });
  const redis = new Redis(opts.redisUrl);
  try {
    const keys = await redis.keys(`${opts.prefix}:*`);
    if (keys.length) await redis.del(...keys);
  } finally {
    await redis.quit();
  }
}
