import type Docker from 'dockerode';
import { isDeepStrictEqual } from 'node:util';
import { shortId } from './naming.ts';

/** The parts of `docker inspect <container>` a recreation reads. */
export interface OldContainer {
  readonly Id: string;
  readonly Name: string;
  readonly Config: {
    readonly Hostname?: string;
    readonly Domainname?: string;
    readonly User?: string;
    readonly AttachStdin?: boolean;
    readonly AttachStdout?: boolean;
    readonly AttachStderr?: boolean;
    readonly ExposedPorts?: Readonly<Record<string, object>> | null;
    readonly Tty?: boolean;
    readonly OpenStdin?: boolean;
    readonly StdinOnce?: boolean;
    readonly Env?: readonly string[] | null;
    readonly Cmd?: readonly string[] | null;
    readonly Image: string;
    readonly Volumes?: Readonly<Record<string, object>> | null;
    readonly WorkingDir?: string;
    readonly Entrypoint?: string | readonly string[] | null;
    readonly Labels?: Readonly<Record<string, string>> | null;
    readonly Healthcheck?: Docker.HealthConfig | null;
    readonly StopSignal?: string;
    readonly StopTimeout?: number;
    readonly MacAddress?: string;
    readonly NetworkDisabled?: boolean;
  };
  readonly HostConfig: Docker.HostConfig;
  readonly NetworkSettings: {
    readonly Networks?: Readonly<Record<string, { IPAMConfig?: unknown; Links?: unknown; Aliases?: unknown; DriverOpts?: unknown }>> | null;
  };
  readonly Mounts?: ReadonlyArray<{ readonly Type: string; readonly Name?: string; readonly Destination: string; readonly RW: boolean }> | null;
}

/** The parts of `docker image inspect` that a container inherits unless its creator overrode them. */
export interface ImageDefaults {
  readonly Config?: {
    readonly Env?: readonly string[] | null;
    readonly Cmd?: readonly string[] | null;
    readonly Entrypoint?: string | readonly string[] | null;
    readonly WorkingDir?: string;
    readonly User?: string;
    readonly Labels?: Readonly<Record<string, string>> | null;
    readonly Healthcheck?: Docker.HealthConfig | null;
    readonly ExposedPorts?: Readonly<Record<string, object>> | null;
    readonly Volumes?: Readonly<Record<string, object>> | null;
    readonly StopSignal?: string;
  } | null;
}

export interface CreateSpec {
  readonly options: Docker.ContainerCreateOptions;
  /** Networks beyond the primary one: the Engine (API < 1.44) takes one network at create, the rest by connect. */
  readonly extraNetworks: ReadonlyArray<{ readonly name: string; readonly endpoint: Docker.EndpointSettings }>;
}

export interface SpecOptions {
  readonly image: string;
  /** Old container ID → its replacement's ID, for `container:<id>` references (network_mode: service:x). */
  readonly idMap?: ReadonlyMap<string, string>;
  readonly extraLabels?: Readonly<Record<string, string>>;
}

function list(v: string | readonly string[] | null | undefined): string[] {
  if (v === null || v === undefined) return [];
  return typeof v === 'string' ? [v] : [...v];
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Keys of `own` whose value differs from what the image would have supplied anyway. */
function ownEntries<T>(own: Readonly<Record<string, T>> | null | undefined, inherited: Readonly<Record<string, T>> | null | undefined): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries(own ?? {})) if (!inherited || !(k in inherited) || !isDeepStrictEqual(inherited[k], v)) out[k] = v;
  return out;
}

function mapContainerRef(mode: string | undefined, idMap: ReadonlyMap<string, string>): string | undefined {
  if (!mode?.startsWith('container:')) return mode;
  const ref = mode.slice('container:'.length);
  const mapped = idMap.get(ref) ?? [...idMap.entries()].find(([old]) => old.startsWith(ref) && ref.length >= 12)?.[1];
  return mapped ? `container:${mapped}` : mode;
}

/** Inspect shows legacy links as "/db:/proj_web_1/db"; create wants "db:db". */
export function createLinks(links: readonly string[] | null | undefined): string[] | undefined {
  if (!links?.length) return undefined;
  return links.map((l) => {
    const m = /^\/?([^:]+):\/?(?:.*\/)?([^/]+)$/.exec(l);
    return m ? `${m[1]}:${m[2]}` : l;
  });
}

const NO_USER_NETWORK = new Set(['default', 'bridge', 'host', 'none', '']);

function endpointOf(net: { IPAMConfig?: unknown; Links?: unknown; Aliases?: unknown; DriverOpts?: unknown }, oldShort: string): Docker.EndpointSettings {
  const ep: Docker.EndpointSettings = {};
  // The Engine adds the container's short ID as an alias by itself; the old one must not follow.
  const aliases = strings(net.Aliases).filter((a) => a !== oldShort);
  if (aliases.length) ep.Aliases = aliases;
  const links = createLinks(strings(net.Links));
  if (links) ep.Links = links;
  if (net.IPAMConfig && typeof net.IPAMConfig === 'object' && Object.values(net.IPAMConfig).some((v) => v !== '' && v !== null && !(Array.isArray(v) && !v.length))) {
    ep.IPAMConfig = net.IPAMConfig as Docker.IPAMConfig;
  }
  if (net.DriverOpts && typeof net.DriverOpts === 'object' && Object.keys(net.DriverOpts).length) ep.DriverOpts = net.DriverOpts as Record<string, string>;
  return ep;
}

/**
 * The create request that makes the same container on another image, the way compose recreates:
 * everything the container's creator set is kept (env, mounts, networks and aliases, ports, labels
 * including com.docker.compose.*, healthcheck, restart policy, user, security options, resources),
 * and what the *old image* supplied is left out so that the new image supplies its own.
 * Anonymous volumes are carried over by name, as compose does, so no data is left behind.
 */
export function buildCreateSpec(old: OldContainer, oldImage: ImageDefaults, opts: SpecOptions): CreateSpec {
  const c = old.Config;
  const img = oldImage.Config ?? {};
  const idMap = opts.idMap ?? new Map<string, string>();
  const oldShort = shortId(old.Id);
  const options: Docker.ContainerCreateOptions = { Image: opts.image };

  const inheritedEnv = new Set(img.Env ?? []);
  const env = (c.Env ?? []).filter((e) => !inheritedEnv.has(e));
  if (env.length) options.Env = env;

  const ownEntrypoint = !isDeepStrictEqual(list(c.Entrypoint), list(img.Entrypoint));
  if (ownEntrypoint) {
    // An explicitly empty entrypoint is sent as [""], which the Engine reads as "none".
    options.Entrypoint = list(c.Entrypoint).length ? list(c.Entrypoint) : [''];
    if (c.Cmd?.length) options.Cmd = [...c.Cmd];
  } else if (c.Cmd && !isDeepStrictEqual(list(c.Cmd), list(img.Cmd))) {
    options.Cmd = [...c.Cmd];
  }
  if ((c.WorkingDir ?? '') !== (img.WorkingDir ?? '')) options.WorkingDir = c.WorkingDir;
  if ((c.User ?? '') !== (img.User ?? '')) options.User = c.User;
  if (c.StopSignal && c.StopSignal !== img.StopSignal) options.StopSignal = c.StopSignal;
  if (c.StopTimeout !== undefined && c.StopTimeout !== null) options.StopTimeout = c.StopTimeout;
  if (c.Healthcheck && !isDeepStrictEqual(c.Healthcheck, img.Healthcheck ?? undefined)) options.Healthcheck = c.Healthcheck;
  if (c.Hostname && c.Hostname !== oldShort) options.Hostname = c.Hostname;
  if (c.Domainname) options.Domainname = c.Domainname;
  if (c.MacAddress) options.MacAddress = c.MacAddress;
  if (c.NetworkDisabled) options.NetworkDisabled = true;
  for (const k of ['Tty', 'OpenStdin', 'StdinOnce', 'AttachStdin', 'AttachStdout', 'AttachStderr'] as const) if (c[k]) options[k] = true;

  options.Labels = { ...ownEntries(c.Labels, img.Labels), ...(opts.extraLabels ?? {}) };
  const bound = new Set(Object.keys(old.HostConfig.PortBindings ?? {}));
  const exposed = Object.keys(c.ExposedPorts ?? {}).filter((p) => bound.has(p) || !(p in (img.ExposedPorts ?? {})));
  if (exposed.length) options.ExposedPorts = Object.fromEntries(exposed.map((p) => [p, {}]));
  const volumes = Object.keys(ownEntries(c.Volumes, img.Volumes));
  if (volumes.length) options.Volumes = Object.fromEntries(volumes.map((v) => [v, {}]));

  const host: Docker.HostConfig = { ...old.HostConfig };
  delete host.ContainerIDFile;
  host.Links = createLinks(old.HostConfig.Links);
  host.NetworkMode = mapContainerRef(old.HostConfig.NetworkMode, idMap);
  const hostRecord = host as Record<string, unknown>;
  for (const key of ['IpcMode', 'PidMode']) {
    const v = hostRecord[key];
    if (typeof v === 'string') hostRecord[key] = mapContainerRef(v, idMap);
  }
  if (old.HostConfig.VolumesFrom?.length) {
    host.VolumesFrom = old.HostConfig.VolumesFrom.map((v: string) => {
      const [ref = '', mode] = v.split(':');
      const mapped = idMap.get(ref);
      return mapped ? `${mapped}${mode ? `:${mode}` : ''}` : v;
    });
  }
  const covered = new Set<string>([
    ...(old.HostConfig.Binds ?? []).map((b) => b.split(':')[1] ?? ''),
    ...(old.HostConfig.Mounts ?? []).map((m) => m.Target),
    ...Object.keys(old.HostConfig.Tmpfs ?? {}),
  ]);
  const anonymous = (old.Mounts ?? []).filter((m) => m.Type === 'volume' && m.Name && !covered.has(m.Destination));
  if (anonymous.length) host.Binds = [...(old.HostConfig.Binds ?? []), ...anonymous.map((m) => `${m.Name}:${m.Destination}${m.RW ? '' : ':ro'}`)];
  options.HostConfig = host;

  const networks = Object.entries(old.NetworkSettings.Networks ?? {});
  const mode = old.HostConfig.NetworkMode ?? '';
  const userNetworks = mode.startsWith('container:') || mode === 'host' || mode === 'none' ? [] : networks.filter(([name]) => !NO_USER_NETWORK.has(name));
  // The network named by NetworkMode is joined at create; on the default bridge, user networks are all connected after.
  const primary = userNetworks.find(([name]) => name === mode);
  if (primary) options.NetworkingConfig = { EndpointsConfig: { [primary[0]]: endpointOf(primary[1], oldShort) } };
  const extraNetworks = userNetworks.filter((n) => n !== primary).map(([name, net]) => ({ name, endpoint: endpointOf(net, oldShort) }));
  return { options, extraNetworks };
}
