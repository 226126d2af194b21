import { join } from 'node:path';
import type { Transform } from 'node:stream';
import type Docker from 'dockerode';
import type { BackupConfig } from '../../shared/config/backup-schema.ts';
import type { ArtifactEntry, BackupManifest } from '../../shared/contracts/backup.ts';
import { OpsError, isOpsError } from '../../shared/errors.ts';
import { checkStored, writeArtifact } from './artifact.ts';
import { databases, type Component, type DbComponent } from './discover.ts';
import { volumeTar, withVolumeHelper } from './helper.ts';
import type { DumpStream } from './dump-stream.ts';
import { mariadbDump } from './mariadb-source.ts';
import { pgDump } from './postgres-source.ts';
import { redisSnapshot } from './redis-source.ts';
import type { BackupStore } from './store.ts';
import { TarHasher } from './tar-hash.ts';
import { mapLimit } from '../../shared/map-limit.ts';

export interface BackupRun {
  readonly docker: Docker;
  readonly store: BackupStore;
  readonly cfg: BackupConfig;
  readonly project: string;
  readonly requestId: string;
  readonly requestedBy: { userId: string; name?: string };
  readonly progress: (text: string) => void;
  readonly signal?: AbortSignal;
}

const SAFE_FILE = /^[A-Za-z0-9_.-]{1,80}$/;
const DB_DUMPS_AT_ONCE = 2;

function fileName(c: Component, target: string, index: number, ext: string, encrypted: boolean, gzip = true): string {
  const t = c.kind === 'volume' || c.kind === 'redis' ? '' : `.${SAFE_FILE.test(target) ? target : `db${index}`}`;
  return `${c.name}${t}.${ext}${gzip ? '.gz' : ''}${encrypted ? '.age' : ''}`;
}

async function dbArtifact(run: BackupRun, dir: string, c: DbComponent, target: string, index: number): Promise<ArtifactEntry> {
  const startedAt = new Date().toISOString();
  const dump: DumpStream = c.kind === 'postgres' ? await pgDump(run.docker, c, target, run.cfg.pgCompressLevel) : c.kind === 'mariadb' ? await mariadbDump(run.docker, c, target) : await redisSnapshot(run.docker, c);
  const ext = c.kind === 'postgres' ? 'pgdump' : c.kind === 'mariadb' ? 'sql' : 'rdb';
  // pg_dump's custom format compresses itself (-Fc -Z backup.pgCompressLevel): stored as it comes.
  const compression = c.kind === 'postgres' ? 'pg_dump' : 'gzip';
  const file = fileName(c, target, index, ext, Boolean(run.cfg.recipient), compression === 'gzip');
  const written = await writeArtifact(dump.stdout, join(dir, file), { recipient: run.cfg.recipient, signal: run.signal, compression });
  const meta = await dump.finish();
  return {
    component: c.name, kind: c.kind, file, target, service: c.service, container: c.containerName, image: c.image, imageId: c.imageId,
    serverVersion: meta.serverVersion, compression, encrypted: Boolean(run.cfg.recipient), ...written,
    ...(meta.counts ? { counts: meta.counts } : {}), ...(c.runtime ? { runtime: c.runtime } : {}), ...(meta.redisDir ? { redisDir: meta.redisDir, redisFile: meta.redisFile } : {}),
    startedAt, finishedAt: new Date().toISOString(),
  };
}

async function volumeArtifact(run: BackupRun, dir: string, c: Extract<Component, { kind: 'volume' }>, image: string): Promise<ArtifactEntry> {
  const startedAt = new Date().toISOString();
  const file = fileName(c, c.volume, 0, 'tar', Boolean(run.cfg.recipient));
  const hasher = new TarHasher(1);
  const written = await withVolumeHelper(run.docker, { volume: c.volume, image, project: run.project, readOnly: true }, async (h) =>
    writeArtifact(await volumeTar(h), join(dir, file), { recipient: run.cfg.recipient, signal: run.signal, extra: [hasher as Transform] }),
  );
  const imageId = (await run.docker.getImage(image).inspect()).Id;
  return {
    component: c.name, kind: 'volume', file, target: c.volume, image, imageId, compression: 'gzip', encrypted: Boolean(run.cfg.recipient), ...written,
    files: hasher.sorted(), startedAt, finishedAt: new Date().toISOString(),
  };
}

/** An image the stack already has, for the volume helper: one that mounts the volume, else any of the project's. */
export async function helperImage(docker: Docker, project: string, c: Extract<Component, { kind: 'volume' }>): Promise<string> {
  if (c.users[0]) return c.users[0].image;
  const ofProject = await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } });
  const first = ofProject[0];
  if (!first) throw new OpsError('BACKUP_FAILED', `No container of ${project} has an image to read volume ${c.volume} with (nothing can be pulled).`);
  return first.ImageID;
}

/**
 * Writes one backup of `components`: every artifact streamed to the partial directory, read back
 * and checked, then the manifest; only then does the backup get its name. On any failure the
 * partial directory is removed and nothing is listed.
 */
export async function runBackup(run: BackupRun, components: readonly Component[], opts: { kind: 'backup' | 'safety'; label?: string; only?: ReadonlyMap<string, readonly string[]> }): Promise<{ manifest: BackupManifest; timings: Map<string, number> }> {
  const { name, createdAt, partial: dir } = await run.store.begin(opts.label);
  const artifacts: ArtifactEntry[] = [];
  const timings = new Map<string, number>();
  try {
    for (const c of components) {
      const began = Date.now();
      if (c.kind === 'volume') {
        run.progress(`Backing up volume ${c.volume}…`);
        artifacts.push(await volumeArtifact(run, dir, c, await helperImage(run.docker, run.project, c)));
      } else if (c.kind === 'redis') {
        run.progress(`Backing up Redis ${c.service}…`);
        artifacts.push(await dbArtifact(run, dir, c, 'redis', 0));
      } else {
        const dbs = opts.only?.get(c.name) ?? (await databases(run.docker, c));
        // Two databases at a time: a small one (the `postgres` maintenance database) then costs
        // nothing next to the large one. Every dump settles before a failure is reported, so none
        // is still writing into the partial directory when it is removed.
        const settled = await mapLimit(dbs, DB_DUMPS_AT_ONCE, (db, i) => {
          run.progress(`Backing up ${c.kind === 'postgres' ? 'PostgreSQL' : 'MariaDB'} ${c.service}/${db}…`);
          return dbArtifact(run, dir, c, db, i).then((a) => ({ a }), (err: unknown) => ({ err }));
        });
        for (const r of settled) {
          if ('err' in r) throw r.err;
          artifacts.push(r.a);
        }
      }
      timings.set(c.name, Date.now() - began);
    }
    if (!artifacts.length) throw new OpsError('NOT_FOUND', `Nothing to back up in ${run.project}: no database container and no named volume was found.`);
    run.progress('Reading every artifact back…');
    for (const a of artifacts) await checkStored(join(dir, a.file), a, name);
    const manifest: BackupManifest = {
      version: 1, name, project: run.project, ...(opts.label ? { label: opts.label } : {}), kind: opts.kind, createdAt: createdAt.toISOString(),
      finishedAt: new Date().toISOString(), requestedBy: run.requestedBy, requestId: run.requestId, ...(run.cfg.recipient ? { recipient: run.cfg.recipient } : {}),
      verified: true, artifacts,
    };
    await run.store.commit(dir, manifest);
    return { manifest, timings };
  } catch (err) {
    await run.store.abandon(dir);
    if (isOpsError(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC') throw new OpsError('BACKUP_FAILED', `The disk holding ${run.store.dir} is full: backup ${name} was not kept (no partial backup is listed).`, { cause: err });
    throw new OpsError('BACKUP_FAILED', `Backup ${name} failed and was not kept: ${(err as Error).message.slice(0, 300)}`, { cause: err });
  }
}

