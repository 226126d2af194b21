import type Docker from 'dockerode';
import type { BackupConfig } from '../../shared/config/backup-schema.ts';
import type { ComponentKind, RuntimeSpec } from '../../shared/contracts/backup.ts';
import { OpsError } from '../../shared/errors.ts';
import { dockerCall } from '../../host/docker-errors.ts';
import { mapLimit } from '../../shared/map-limit.ts';
import { execText } from './engine-exec.ts';

export interface DbComponent {
  readonly name: string;
  readonly kind: Exclude<ComponentKind, 'volume'>;
  readonly service: string;
  readonly containerId: string;
  readonly containerName: string;
  readonly image: string;
  readonly imageId: string;
  readonly env: readonly string[];
  /** Volumes the database keeps its files in: covered by the logical dump, not backed up as files. */
  readonly volumes: readonly string[];
  readonly runtime?: RuntimeSpec;
}

const SECRET_NAME = /PASS|SECRET|TOKEN|KEY|CREDENTIAL|AUTH/i;

/** The container's command and environment minus secret values (a `*_FILE` value is a path). */
export function runtimeOf(info: Docker.ContainerInspectInfo): RuntimeSpec {
  const env = (info.Config.Env ?? []).filter((e) => {
    const name = e.slice(0, e.indexOf('=') === -1 ? e.length : e.indexOf('='));
    return name.endsWith('_FILE') || !SECRET_NAME.test(name);
  });
  const dataDirs = info.Mounts.filter((m) => m.Type === 'volume').map((m) => m.Destination);
  const ep = info.Config.Entrypoint;
  return {
    ...(ep ? { entrypoint: Array.isArray(ep) ? ep : [ep] } : {}),
    ...(info.Config.Cmd ? { cmd: info.Config.Cmd } : {}),
    ...(info.Config.User ? { user: info.Config.User } : {}),
    env, dataDirs,
  };
}

export interface VolumeComponent {
  readonly name: string;
  readonly kind: 'volume';
  readonly volume: string;
  /** Containers (running or not) that mount it: stopped while it is replaced. */
  readonly users: ReadonlyArray<{ id: string; service: string; image: string }>;
}

export type Component = DbComponent | VolumeComponent;

export interface Discovery {
  readonly components: readonly Component[];
  /** Found but left out by config (`backup.services`, `volumes`, `exclude`). */
  readonly skipped: readonly string[];
}

const PROJECT = 'com.docker.compose.project';
const SERVICE = 'com.docker.compose.service';
const VOLUME = 'com.docker.compose.volume';

/** What a process list says runs in a container: images are often custom, processes are not. */
export function kindFromProcesses(commands: readonly string[]): DbComponent['kind'] | undefined {
  for (const c of commands) {
    const argv0 = c.trim().split(/\s+/)[0] ?? '';
    const bin = argv0.split('/').at(-1) ?? '';
    if (bin === 'postgres' || bin === 'postmaster' || /^postgres: /.test(c)) return 'postgres';
    if (bin === 'mariadbd' || bin === 'mysqld') return 'mariadb';
    if (bin === 'redis-server' || /^redis-server /.test(c)) return 'redis';
  }
  return undefined;
}

async function processes(docker: Docker, id: string): Promise<string[]> {
  const top = (await docker.getContainer(id).top({ ps_args: '-eo args' }).catch(() => docker.getContainer(id).top())) as { Titles: string[]; Processes: string[][] };
  const col = Math.max(0, top.Titles.findIndex((t) => /^(CMD|COMMAND|ARGS)$/i.test(t)));
  return top.Processes.map((p) => p[col] ?? p.join(' '));
}

/**
 * Finds what a backup of the project covers, with nothing configured: every running container that
 * runs PostgreSQL, MariaDB/MySQL or Redis (by its processes), and the project's named volumes that
 * no database keeps its files in. `backup.services`, `volumes` and `exclude` narrow it.
 */
export async function discover(docker: Docker, project: string, cfg: BackupConfig): Promise<Discovery> {
  const list = await dockerCall('list the stack’s containers', () => docker.listContainers({ all: true, filters: { label: [`${PROJECT}=${project}`] } }));
  const dbs: DbComponent[] = [];
  const mounts = new Map<string, Array<{ id: string; service: string; image: string }>>();
  const dbVolumes = new Set<string>();
  const serviceOf = (c: Docker.ContainerInfo) => c.Labels[SERVICE] ?? c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12);
  for (const c of list) {
    for (const m of c.Mounts) {
      if (m.Type === 'volume' && m.Name) mounts.set(m.Name, [...(mounts.get(m.Name) ?? []), { id: c.Id, service: serviceOf(c), image: c.ImageID }]);
    }
  }
  // A few containers at a time: a stack of a dozen services would otherwise wait for a dozen process lists in a row.
  const found = await mapLimit(list.filter((c) => c.State === 'running'), 8, async (c): Promise<DbComponent | undefined> => {
    const kind = kindFromProcesses(await processes(docker, c.Id));
    if (!kind) return undefined;
    const info = await docker.getContainer(c.Id).inspect();
    const volumes = info.Mounts.filter((m) => m.Type === 'volume' && m.Name).map((m) => m.Name as string);
    const service = serviceOf(c);
    return {
      name: service, kind, service, containerId: c.Id, containerName: info.Name.replace(/^\//, ''), image: info.Config.Image, imageId: info.Image,
      env: info.Config.Env ?? [], volumes, runtime: runtimeOf(info),
    };
  });
  for (const d of found) {
    if (!d) continue;
    d.volumes.forEach((v) => dbVolumes.add(v));
    dbs.push(d);
  }
  const vols = await dockerCall('list volumes', () => docker.listVolumes({ filters: { label: [`${PROJECT}=${project}`] } }));
  const volumeComponents: VolumeComponent[] = [];
  for (const v of vols.Volumes ?? []) {
    if (dbVolumes.has(v.Name) || v.Labels?.['cdb.drill']) continue;
    const short = v.Labels?.[VOLUME] ?? v.Name;
    const name = dbs.some((d) => d.name === short) ? `volume-${short}` : short;
    volumeComponents.push({ name, kind: 'volume', volume: v.Name, users: mounts.get(v.Name) ?? [] });
  }
  const skipped: string[] = [];
  const wantedDb = (d: DbComponent) => (!cfg.services || cfg.services.includes(d.service)) && !cfg.exclude.includes(d.service);
  const wantedVol = (v: VolumeComponent) => (!cfg.volumes || cfg.volumes.includes(v.name) || cfg.volumes.includes(v.volume)) && !cfg.exclude.includes(v.name) && !cfg.exclude.includes(v.volume);
  const components: Component[] = [];
  for (const d of dbs) {
    if (wantedDb(d)) components.push(d);
    else skipped.push(d.name);
  }
  for (const v of volumeComponents) {
    if (wantedVol(v)) components.push(v);
    else skipped.push(v.name);
  }
  for (const s of cfg.services ?? []) if (!dbs.some((d) => d.service === s)) throw new OpsError('CONFIG_INVALID', `backup.services names \`${s}\`, but no running container of ${project} runs PostgreSQL, MariaDB or Redis as that service.`);
  components.sort((a, b) => a.name.localeCompare(b.name));
  return { components, skipped };
}

/** The components a user asked for, or all; unknown names are refused with the list of known ones. */
export function pick(all: readonly Component[], asked: readonly string[] | undefined): Component[] {
  if (!asked?.length) return [...all];
  const unknown = asked.filter((a) => !all.some((c) => c.name === a));
  if (unknown.length) {
    const known = all.map((c) => `\`${c.name}\``).join(', ') || 'none found';
    throw new OpsError('NOT_FOUND', `Unknown component${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `\`${u}\``).join(', ')}. Known: ${known}.`);
  }
  return all.filter((c) => asked.includes(c.name));
}

/** Environment value of a container, by name. */
export function envOf(env: readonly string[], key: string): string | undefined {
  const line = env.find((e) => e.startsWith(`${key}=`));
  return line?.slice(key.length + 1);
}

/** PostgreSQL and MariaDB databases of a server (system databases and our own temporaries left out). */
export async function databases(docker: Docker, d: DbComponent): Promise<string[]> {
  if (d.kind === 'postgres') {
    const out = await execText(docker, d.containerId, ['sh', '-c', `${PG_AUTH}psql -X -At -d postgres -c "select datname from pg_database where not datistemplate and datallowconn order by 1"`, 'sh', pgUser(d)], { what: 'list PostgreSQL databases' });
    return out.split('\n').map((s) => s.trim()).filter((s) => s && !s.includes('__cdb'));
  }
  if (d.kind === 'mariadb') {
    const out = await execText(docker, d.containerId, ['sh', '-c', `${MY_AUTH}"$CLIENT" -N -B -e "show databases"`, 'sh'], { what: 'list MariaDB databases' });
    return out.split('\n').map((s) => s.trim()).filter((s) => s && !['information_schema', 'performance_schema', 'mysql', 'sys'].includes(s) && !s.includes('__cdb'));
  }
  return [];
}

export function pgUser(d: Pick<DbComponent, 'env'>): string {
  return envOf(d.env, 'POSTGRES_USER') ?? 'postgres';
}

/**
 * Shell prologues run inside the database container: the password is read there from the
 * container's own *_PASSWORD_FILE and never leaves it. The user name arrives as "$1"; nothing
 * typed in chat is ever part of these strings.
 */
export const PG_AUTH = 'export PGUSER="$1"; if [ -n "${POSTGRES_PASSWORD_FILE:-}" ] && [ -r "$POSTGRES_PASSWORD_FILE" ]; then PGPASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"; export PGPASSWORD; fi; ';
export const REDIS_AUTH = 'if [ -n "${REDIS_PASSWORD_FILE:-}" ] && [ -r "$REDIS_PASSWORD_FILE" ]; then REDISCLI_AUTH="$(cat "$REDIS_PASSWORD_FILE")"; export REDISCLI_AUTH; fi; ';
export const MY_AUTH = 'f="${MARIADB_ROOT_PASSWORD_FILE:-${MYSQL_ROOT_PASSWORD_FILE:-}}"; if [ -n "$f" ] && [ -r "$f" ]; then MYSQL_PWD="$(cat "$f")"; export MYSQL_PWD; fi; CLIENT=mariadb; command -v mariadb >/dev/null || CLIENT=mysql; DUMP=mariadb-dump; command -v mariadb-dump >/dev/null || DUMP=mysqldump; export CLIENT DUMP; ';
