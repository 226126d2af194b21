import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Decrypter } from 'age-encryption';
import type Docker from 'dockerode';
import type { ArtifactEntry, BackupManifest, DrillCheck, DrillResult } from '../../shared/contracts/backup.ts';
import { decrypterFor } from './age-keys.ts';
import { countDiff, mariadbVerify, volumeDiff } from './apply.ts';
import { checkStored, decryptTest, openArtifact } from './artifact.ts';
import type { BackupEnv } from './env.ts';
import { putVolumeTar, tarFiles } from './helper.ts';
import { redisPersistence, restoreTar } from './redis-files.ts';
import { leaseKey, withLease } from './lease.ts';
import { execText } from './engine-exec.ts';
import { mariadbExec, mariadbRestore } from './mariadb-source.ts';
import { pgCounts, pgExec, pgRestore } from './postgres-source.ts';
import { redisKeys, redisPing } from './redis-source.ts';

export const DRILL_LABEL = 'cdb.drill';
export const DRILL_PROJECT_LABEL = 'cdb.drill.project';

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** A small tar of in-memory files (the scratch password files). */
function smallTar(files: ReadonlyArray<{ name: string; content: string }>): Readable {
  return Readable.from(tarFiles(files.map((f) => {
    const body = Buffer.from(f.content);
    return { name: f.name, type: 'file' as const, size: body.length, mode: 0o644, body: async () => [body] };
  })));
}

async function until(what: string, ms: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${Math.round(ms / 1000)} s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

interface Scratch {
  readonly id: string;
  readonly project: string;
  readonly labels: Record<string, string>;
  readonly network: string;
}

/** Removes every container, volume and network a drill of this project left (labels), and counts them. */
export async function cleanScratch(docker: Docker, filter: string): Promise<{ containers: number; volumes: number; networks: number; ok: boolean }> {
  const label = { label: [filter] };
  const cs = await docker.listContainers({ all: true, filters: label });
  for (const c of cs) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
  const nets = await docker.listNetworks({ filters: label });
  for (const n of nets) await docker.getNetwork(n.Id).remove().catch(() => undefined);
  const vols = (await docker.listVolumes({ filters: label })).Volumes ?? [];
  for (const v of vols) await docker.getVolume(v.Name).remove({ force: true }).catch(() => undefined);
  const left = (await docker.listContainers({ all: true, filters: label })).length + (await docker.listNetworks({ filters: label })).length + ((await docker.listVolumes({ filters: label })).Volumes ?? []).length;
  return { containers: cs.length, volumes: vols.length, networks: nets.length, ok: left === 0 };
}

/** A database server like production's (same image, command, environment minus secrets), on scratch volumes, internal network, no ports. */
async function scratchServer(docker: Docker, s: Scratch, a: ArtifactEntry): Promise<Docker.Container> {
  const rt = a.runtime ?? { env: [], dataDirs: [] };
  const secrets: Array<{ name: string; content: string }> = [];
  // *_FILE secrets point at scratch files with random content: production's passwords never reach a drill.
  const env = rt.env.map((e) => {
    const [name] = e.split('=', 1) as [string];
    if (!name.endsWith('_FILE') || !/PASS/i.test(name)) return e;
    secrets.push({ name: `run/cdb-drill/${name}`, content: randomBytes(18).toString('hex') });
    return `${name}=/run/cdb-drill/${name}`;
  });
  const binds: string[] = [];
  for (const [i, dir] of rt.dataDirs.entries()) {
    const name = `${s.project}_${a.component}_${i}`;
    await docker.createVolume({ Name: name, Labels: s.labels });
    binds.push(`${name}:${dir}`);
  }
  const c = await docker.createContainer({
    name: `${s.project}-${a.component}`, Image: a.imageId, Entrypoint: rt.entrypoint ? [...rt.entrypoint] : undefined, Cmd: rt.cmd ? [...rt.cmd] : undefined, User: rt.user,
    Env: env, Labels: { ...s.labels, 'com.docker.compose.service': a.component },
    HostConfig: { Binds: binds, NetworkMode: s.network, PublishAllPorts: false, PortBindings: {} },
  });
  if (secrets.length) await c.putArchive(smallTar(secrets) as unknown as NodeJS.ReadableStream, { path: '/' });
  return c;
}

async function drillComponent(env: BackupEnv, s: Scratch, m: BackupManifest, arts: readonly ArtifactEntry[], decrypter: Decrypter | undefined): Promise<DrillCheck[]> {
  const first = arts[0] as ArtifactEntry;
  const open = (a: ArtifactEntry) => openArtifact(env.store.path(m.name, a.file), a, decrypter);
  const healthMs = env.config.backup.healthTimeoutSeconds * 1000;
  const checks: DrillCheck[] = [];
  const user = (first.runtime?.env.find((e) => e.startsWith('POSTGRES_USER='))?.slice(14)) ?? 'postgres';
  if (first.kind === 'volume') {
    const volume = `${s.project}_${first.component}`;
    await env.docker.createVolume({ Name: volume, Labels: s.labels });
    await putVolumeTar(env.docker, { volume, image: first.imageId, project: s.project }, await open(first));
    const diff = await volumeDiff(env.docker, s.project, volume, first.imageId, first.files);
    checks.push({ component: first.component, target: first.target, ok: !diff, detail: diff || `${Object.keys(first.files ?? {}).length} files, hashes match` });
    return checks;
  }
  const c = await scratchServer(env.docker, s, first);
  if (first.kind === 'redis') {
    // Started empty first, to ask it where its files go (and whether it loads an AOF), then filled.
    await c.start();
    await until('scratch Redis', healthMs, () => redisPing(env.docker, c.id));
    const p = await redisPersistence(env.docker, c.id);
    await c.stop({ t: 10 });
    await c.putArchive(restoreTar(p, first, () => open(first)) as unknown as NodeJS.ReadableStream, { path: p.dir });
    await c.start();
    await until('scratch Redis', healthMs, () => redisPing(env.docker, c.id));
    const diff = countDiff(first.counts, await redisKeys(env.docker, c.id));
    checks.push({ component: first.component, target: 'keys', ok: !diff, detail: diff || (first.counts ? `keys match (${Object.entries(first.counts).map(([k, n]) => `${k}=${n}`).join(', ') || 'empty'})` : 'loaded (key counts were not exact at backup time)') });
    return checks;
  }
  await c.start();
  if (first.kind === 'postgres') {
    // Over TCP: the entrypoint's first-run server listens on the socket only, and stops again.
    await until('scratch PostgreSQL', healthMs, async () => execText(env.docker, c.id, ['pg_isready', '-q', '-h', '127.0.0.1'], { what: 'pg_isready' }).then(() => pgExec(env.docker, c.id, user, 'template1', 'select 1', 'ping')).then(() => true, () => false));
    for (const a of arts) {
      await pgExec(env.docker, c.id, user, 'template1', [`DROP DATABASE IF EXISTS ${ident(a.target)}`, `CREATE DATABASE ${ident(a.target)} TEMPLATE template0`], 'create the database');
      await pgRestore(env.docker, c.id, user, a.target, await open(a), { noOwner: true });
      const diff = countDiff(a.counts, await pgCounts(env.docker, c.id, user, a.target));
      checks.push({ component: a.component, target: a.target, ok: !diff, detail: diff || `${Object.keys(a.counts ?? {}).length} tables, ${Object.values(a.counts ?? {}).reduce((n, x) => n + x, 0)} rows match` });
    }
  } else {
    await until('scratch MariaDB', healthMs, async () => mariadbExec(env.docker, c.id, 'select 1', 'ping').then(() => true, () => false));
    for (const a of arts) {
      await mariadbExec(env.docker, c.id, `CREATE DATABASE IF NOT EXISTS \`${a.target.replace(/`/g, '``')}\``, 'create');
      await mariadbRestore(env.docker, c.id, a.target, await open(a));
      const verified = await mariadbVerify(env.docker, c.id, a).then((detail) => ({ ok: true, detail }), (err: Error) => ({ ok: false, detail: err.message.slice(0, 300) }));
      checks.push({ component: a.component, target: a.target, ...verified });
    }
  }
  return checks;
}

/**
 * The seeds' DR drill without destroying production: the backup is restored into scratch
 * containers (same images, fresh volumes, an internal network, no published ports, their own
 * compose project name), checked against the manifest, and every scratch object is removed,
 * whatever happened. Production is only read from: its containers are never touched.
 */
export async function runDrill(env: BackupEnv, target: string): Promise<DrillResult> {
  const began = Date.now();
  return withLease(env.redis, `${leaseKey(env.prefix, env.project)}:drill`, env.requestId, 'the drill', async () => {
    // Leftovers of a drill whose worker was killed (no drill of this project runs: we hold its lease).
    await cleanScratch(env.docker, `${DRILL_PROJECT_LABEL}=${env.project}`);
    const m = await env.store.resolve(target);
    for (const a of m.artifacts) await checkStored(env.store.path(m.name, a.file), a, m.name);
    const decrypter = m.recipient ? await decrypterFor(env.config.backup, [m.recipient]) : undefined;
    if (decrypter) for (const a of m.artifacts) await decryptTest(env.store.path(m.name, a.file), a, decrypter, m.name);
    const id = randomBytes(4).toString('hex');
    const project = `${env.project}-drill-${id}`.toLowerCase().replace(/[^a-z0-9_-]/g, '-');
    const labels = { [DRILL_LABEL]: id, [DRILL_PROJECT_LABEL]: env.project, 'com.docker.compose.project': project };
    const checks: DrillCheck[] = [];
    let error: string | undefined;
    const t0 = Date.now();
    let restoreMs = 0;
    try {
      const net = await env.docker.createNetwork({ Name: `${project}_internal`, Internal: true, Labels: labels });
      const s: Scratch = { id, project, labels, network: net.id };
      const components = [...new Set(m.artifacts.map((a) => a.component))];
      for (const comp of components) {
        env.progress(`Drill: restoring ${comp} into scratch…`);
        try {
          checks.push(...(await drillComponent(env, s, m, m.artifacts.filter((a) => a.component === comp), decrypter)));
        } catch (err) {
          checks.push({ component: comp, target: '-', ok: false, detail: (err as Error).message.slice(0, 300) });
        }
      }
      restoreMs = Date.now() - t0;
    } catch (err) {
      error = (err as Error).message.slice(0, 300);
      restoreMs = Date.now() - t0;
    } finally {
      env.progress('Drill: removing the scratch containers, volumes and network…');
    }
    const cleanedUp = await cleanScratch(env.docker, `${DRILL_LABEL}=${id}`);
    const ok = !error && checks.length > 0 && checks.every((c) => c.ok) && cleanedUp.ok;
    return { project: env.project, backup: m.name, ok, backupAgeMs: Date.now() - Date.parse(m.createdAt), restoreMs, totalMs: Date.now() - began, checks, scratchProject: project, cleanedUp, ...(error ? { error } : {}) };
  });
}
