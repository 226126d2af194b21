import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { isBackupName, type BackupManifest, type BackupSummary, type OffsiteState } from '../../shared/contracts/backup.ts';
import { OpsError } from '../../shared/errors.ts';

export const MANIFEST = 'manifest.json';
export const OFFSITE = 'offsite.json';
const PARTIAL = '.partial-';

const artifactSchema = z.object({
  component: z.string(), kind: z.enum(['postgres', 'mariadb', 'redis', 'volume']), file: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/),
  target: z.string(), image: z.string(), imageId: z.string(), compression: z.enum(['gzip', 'pg_dump']), encrypted: z.boolean(),
  bytes: z.number().int().nonnegative(), sha256: z.string().regex(/^[a-f0-9]{64}$/), plainSha256: z.string().regex(/^[a-f0-9]{64}$/),
  rawBytes: z.number().int().nonnegative(), startedAt: z.string(), finishedAt: z.string(),
}).loose();
const manifestSchema = z.object({
  version: z.literal(1), name: z.string(), project: z.string(), kind: z.enum(['backup', 'safety']), createdAt: z.string(), finishedAt: z.string(),
  requestedBy: z.object({ userId: z.string() }).loose(), requestId: z.string(), verified: z.boolean(), artifacts: z.array(artifactSchema).min(1),
}).loose();

/** `backup-YYYYMMDD-HHMMSS[-label]` in UTC. */
export function backupNameAt(date: Date, label?: string): string {
  const s = date.toISOString();
  return `backup-${s.slice(0, 10).replace(/-/g, '')}-${s.slice(11, 19).replace(/:/g, '')}${label ? `-${label}` : ''}`;
}

async function writeJson(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(value, null, 2)}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/**
 * Backups on the worker host: one directory per backup, `<dir>/<name>/`, holding the artifacts and
 * `manifest.json`. A backup is written under `.partial-<name>-…` and renamed into place only after
 * every artifact was read back and its manifest written: a backup cut short (disk full, worker
 * killed) is never listed as good, and is removed by the next prune.
 */
export class BackupStore {
  constructor(readonly dir: string, readonly project: string) {}

  path(name: string, file?: string): string {
    if (!isBackupName(name)) throw new OpsError('BAD_ARGUMENTS', `\`${name.slice(0, 60)}\` is not a backup name.`);
    return file ? join(this.dir, name, file) : join(this.dir, name);
  }

  /**
   * Names a new backup after the current second and opens its partial directory. Names have a
   * resolution of one second and backups run one at a time per host (the lease), yet a restore's
   * safety backup can follow a backup within the same second: then this waits for the next second,
   * so the name still says when the backup began.
   */
  async begin(label?: string): Promise<{ name: string; createdAt: Date; partial: string }> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700).catch(() => undefined);
    for (;;) {
      const createdAt = new Date();
      const name = backupNameAt(createdAt, label);
      const taken = (await readdir(this.dir)).some((e) => e === name || e.startsWith(`${PARTIAL}${name}-`));
      if (!taken) {
        const partial = join(this.dir, `${PARTIAL}${name}-${randomBytes(4).toString('hex')}`);
        await mkdir(partial, { mode: 0o700 });
        return { name, createdAt, partial };
      }
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 5));
    }
  }

  async commit(partial: string, manifest: BackupManifest): Promise<string> {
    await writeJson(join(partial, MANIFEST), manifest);
    const final = this.path(manifest.name);
    if (await stat(final).then(() => true, () => false)) throw new OpsError('BACKUP_FAILED', `A backup named ${manifest.name} already exists; try again.`);
    await rename(partial, final);
    return final;
  }

  async abandon(partial: string): Promise<void> {
    await rm(partial, { recursive: true, force: true });
  }

  /** The manifest, validated; BACKUP_INVALID when unreadable or another project's. */
  async manifest(name: string): Promise<BackupManifest> {
    let text: string;
    try {
      text = await readFile(this.path(name, MANIFEST), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new OpsError('NOT_FOUND', `There is no backup ${name} in ${this.dir}. \`/cdb backups\` lists them.`);
      throw err;
    }
    let parsed: BackupManifest;
    try {
      const r = manifestSchema.safeParse(JSON.parse(text));
      if (!r.success || r.data.name !== name) throw new Error('schema');
      parsed = r.data as unknown as BackupManifest;
    } catch {
      throw new OpsError('BACKUP_INVALID', `Backup ${name}: \`${MANIFEST}\` is unreadable or does not describe this backup. Nothing was touched.`);
    }
    if (parsed.project !== this.project) {
      throw new OpsError('BACKUP_INVALID', `Backup ${name} belongs to project \`${parsed.project}\`, not \`${this.project}\`: it is not restored here. Nothing was touched.`);
    }
    return parsed;
  }

  async offsite(name: string): Promise<OffsiteState | undefined> {
    try {
      return JSON.parse(await readFile(this.path(name, OFFSITE), 'utf8')) as OffsiteState;
    } catch {
      return undefined;
    }
  }

  async setOffsite(name: string, state: OffsiteState): Promise<void> {
    await writeJson(this.path(name, OFFSITE), state);
  }

  /** This project's complete backups, newest first, and how many directories are incomplete. */
  async list(): Promise<{ manifests: BackupManifest[]; incomplete: string[] }> {
    let entries: string[];
    try {
      entries = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { manifests: [], incomplete: [] };
      throw err;
    }
    const manifests: BackupManifest[] = [];
    const incomplete: string[] = [];
    for (const e of entries) {
      if (e.startsWith(PARTIAL)) {
        incomplete.push(e);
        continue;
      }
      if (!isBackupName(e)) continue;
      try {
        manifests.push(await this.manifest(e));
      } catch (err) {
        // Another project's backups share the directory without being ours to list.
        if (!(err instanceof OpsError && err.code === 'BACKUP_INVALID' && /belongs to project/.test(err.userMessage))) incomplete.push(e);
      }
    }
    manifests.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.localeCompare(a.name));
    return { manifests, incomplete };
  }

  /** `latest` is the newest verified backup (safety backups included only by name). */
  async resolve(target: string): Promise<BackupManifest> {
    if (target !== 'latest') return this.manifest(target);
    const { manifests } = await this.list();
    const found = manifests.find((m) => m.kind === 'backup' && m.verified);
    if (!found) throw new OpsError('NOT_FOUND', `Project ${this.project} has no verified backup in ${this.dir} yet. Make one with \`/cdb backup\`.`);
    return found;
  }

  async summary(m: BackupManifest): Promise<BackupSummary> {
    return {
      name: m.name, kind: m.kind, label: m.label, createdAt: m.createdAt, requestedBy: m.requestedBy.name ?? m.requestedBy.userId,
      components: [...new Set(m.artifacts.map((a) => a.component))], bytes: m.artifacts.reduce((n, a) => n + a.bytes, 0),
      encrypted: Boolean(m.recipient), verified: m.verified, offsite: await this.offsite(m.name),
    };
  }

  async remove(name: string): Promise<void> {
    await rm(this.path(name), { recursive: true, force: true });
  }

  async removeIncomplete(entry: string): Promise<void> {
    if (entry.startsWith(PARTIAL) && !entry.includes('/')) await rm(join(this.dir, entry), { recursive: true, force: true });
  }
}
