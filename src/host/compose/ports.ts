/** A published port, as the Engine reports it or as compose declares it. */
export interface PublishedPort {
  /** e.g. 8080 */
  readonly containerPort: number;
  readonly proto: string;
  /** '' and '0.0.0.0' and '::' mean every interface. */
  readonly hostIp: string;
  /** 0 when Docker picks one (and has not yet: a stopped container). */
  readonly hostPort: number;
}

/**
 * Compose `ports:` entries, short and long syntax, as host bindings:
 *   "5432" · "8080:80" · "127.0.0.1:8080:80" · "127.0.0.1::80" · "[::1]:80:80" · "8000-8002:8000-8002/udp"
 *   { target: 80, published: 8080, host_ip: 127.0.0.1, protocol: tcp }
 * A port without a host part is still published (on a random port, on every interface).
 */
export function parsePortSpec(spec: unknown): PublishedPort[] {
  if (typeof spec === 'number') return [{ containerPort: spec, proto: 'tcp', hostIp: '', hostPort: 0 }];
  if (spec && typeof spec === 'object' && !Array.isArray(spec)) {
    const o = spec as Record<string, unknown>;
    const target = Number(o.target);
    if (!Number.isInteger(target)) return [];
    const published = o.published === undefined || o.published === null || o.published === '' ? 0 : Number(String(o.published).split('-')[0]);
    return [{ containerPort: target, proto: String(o.protocol ?? 'tcp'), hostIp: String(o.host_ip ?? ''), hostPort: Number.isFinite(published) ? published : 0 }];
  }
  if (typeof spec !== 'string') return [];
  let text = spec.trim();
  let proto = 'tcp';
  const slash = text.lastIndexOf('/');
  if (slash > 0 && !text.slice(slash).includes(':')) {
    proto = text.slice(slash + 1) || 'tcp';
    text = text.slice(0, slash);
  }
  let hostIp = '';
  const v6 = /^\[([^\]]*)\]:(.*)$/.exec(text);
  let parts: string[];
  if (v6) {
    hostIp = v6[1] as string;
    parts = ['', ...(v6[2] as string).split(':')].slice(-2);
  } else {
    parts = text.split(':');
    if (parts.length === 3) hostIp = parts.shift() as string;
  }
  const [hostPart, containerPart] = parts.length === 1 ? ['', parts[0] as string] : [parts[0] as string, parts[1] as string];
  const range = (s: string): number[] => {
    if (!s) return [];
    const [a, b] = s.split('-').map(Number);
    if (!Number.isInteger(a)) return [];
    const end = Number.isInteger(b) ? (b as number) : (a as number);
    return Array.from({ length: Math.max(0, Math.min(end - (a as number), 1000)) + 1 }, (_, i) => (a as number) + i);
  };
  const containerPorts = range(containerPart);
  const hostPorts = range(hostPart);
  return containerPorts.map((containerPort, i) => ({ containerPort, proto, hostIp, hostPort: hostPorts[i] ?? 0 }));
}

const ALL_INTERFACES = new Set(['', '0.0.0.0', '::', '[::]']);

export function onAllInterfaces(hostIp: string): boolean {
  return ALL_INTERFACES.has(hostIp);
}

/** Two bindings collide when the port and protocol match and either side listens everywhere or both name the same address. */
export function bindingsCollide(a: PublishedPort, b: PublishedPort): boolean {
  if (!a.hostPort || a.hostPort !== b.hostPort || a.proto !== b.proto) return false;
  return onAllInterfaces(a.hostIp) || onAllInterfaces(b.hostIp) || a.hostIp === b.hostIp;
}

export function formatBinding(p: PublishedPort): string {
  const ip = p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp || '0.0.0.0';
  return `${ip}:${p.hostPort || '(random)'}->${p.containerPort}/${p.proto}`;
}
