import type Docker from 'dockerode';
import type { ContainerView, NetworkView, OtherContainer, PublishedPort, VolumeView } from './types.ts';

/** Narrows the Engine API's answers to what the rules read (types.ts). */

type PortMap = Record<string, Array<{ HostIp?: string; HostPort?: string }> | null | undefined> | null | undefined;

function portsFrom(map: PortMap): PublishedPort[] {
  const out: PublishedPort[] = [];
  for (const [key, bindings] of Object.entries(map ?? {})) {
    const [port, proto = 'tcp'] = key.split('/');
    for (const b of bindings ?? []) {
      out.push({ containerPort: Number(port), proto, hostIp: b.HostIp ?? '', hostPort: Number(b.HostPort) || 0 });
    }
  }
  // Docker lists a binding on 0.0.0.0 and again on ::; one line per port is enough.
  const seen = new Set<string>();
  return out.filter((p) => {
    const key = `${p.containerPort}/${p.proto}|${p.hostPort}|${p.hostIp === '::' ? '0.0.0.0' : p.hostIp}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function splitEnv(env: readonly string[] | null | undefined): { name: string; value: string }[] {
  return (env ?? []).map((e) => {
    const i = e.indexOf('=');
    return i < 0 ? { name: e, value: '' } : { name: e.slice(0, i), value: e.slice(i + 1) };
  });
}

function list(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string' && v) return [v];
  return [];
}

export function containerView(d: Docker.ContainerInspectInfo): ContainerView {
  const labels = d.Config.Labels ?? {};
  const host = d.HostConfig;
  const state = d.State;
  const health = state.Health as { Status?: string; FailingStreak?: number; Log?: Array<{ ExitCode?: number }> } | undefined;
  const started = state.StartedAt && !state.StartedAt.startsWith('0001') ? state.StartedAt : undefined;
  const running = state.Running && !state.Restarting;
  const hc = (d.Config as { Healthcheck?: { Test?: string[] } }).Healthcheck;
  const logConfig = host.LogConfig as { Type?: string; Config?: Record<string, string> } | undefined;
  return {
    id: d.Id,
    name: d.Name.replace(/^\//, ''),
    service: labels['com.docker.compose.service'],
    oneOff: labels['com.docker.compose.oneoff'] === 'True',
    image: d.Config.Image,
    imageId: d.Image,
    labels,
    state: {
      status: state.Status,
      running: state.Running,
      restarting: state.Restarting,
      exitCode: state.ExitCode,
      oomKilled: state.OOMKilled,
      error: state.Error ?? '',
      startedAt: started,
      health: health?.Status ? { status: health.Status, failingStreak: health.FailingStreak ?? 0, lastExitCode: health.Log?.at(-1)?.ExitCode } : undefined,
    },
    restartCount: d.RestartCount ?? 0,
    user: d.Config.User ?? '',
    env: splitEnv(d.Config.Env),
    argv: [...list(d.Config.Entrypoint), ...list(d.Config.Cmd)],
    healthcheck: hc?.Test,
    host: {
      privileged: Boolean(host.Privileged),
      readonlyRootfs: Boolean(host.ReadonlyRootfs),
      capAdd: host.CapAdd ?? [],
      capDrop: host.CapDrop ?? [],
      securityOpt: host.SecurityOpt ?? [],
      networkMode: host.NetworkMode ?? '',
      pidMode: host.PidMode ?? '',
      ipcMode: host.IpcMode ?? '',
      utsMode: host.UTSMode ?? '',
      memory: host.Memory ?? 0,
      pidsLimit: host.PidsLimit ?? null,
      restartPolicy: host.RestartPolicy?.Name ?? '',
      logDriver: logConfig?.Type ?? '',
      logOptions: logConfig?.Config ?? {},
    },
    ports: running ? portsFrom(d.NetworkSettings.Ports as PortMap) : portsFrom(host.PortBindings as PortMap),
    mounts: (d.Mounts ?? []).map((m) => ({ type: m.Type ?? '', name: m.Name || undefined, source: m.Source ?? '', destination: m.Destination ?? '', rw: Boolean(m.RW) })),
    networks: Object.entries(d.NetworkSettings.Networks ?? {}).map(([name, n]) => ({ name, id: n.NetworkID ?? '' })),
  };
}

export function otherContainer(info: Docker.ContainerInfo): OtherContainer {
  return {
    id: info.Id,
    name: (info.Names?.[0] ?? info.Id).replace(/^\//, ''),
    ports: (info.Ports ?? []).filter((p) => p.PublicPort).map((p) => ({ containerPort: p.PrivatePort, proto: p.Type, hostIp: p.IP ?? '', hostPort: p.PublicPort })),
  };
}

export function volumeView(v: Docker.VolumeInspectInfo): VolumeView {
  return { name: v.Name, labels: v.Labels ?? {} };
}

export function networkView(n: Docker.NetworkInspectInfo): NetworkView {
  return { id: n.Id, name: n.Name, internal: Boolean(n.Internal), labels: n.Labels ?? {} };
}
