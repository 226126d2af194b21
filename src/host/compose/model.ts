import { posix } from 'node:path';
import { listToMap, mergeCompose } from './merge.ts';
import { parsePortSpec, type PublishedPort } from './ports.ts';

/** The declared stack, as far as the doctor's rules need it. */
export interface ComposeService {
  readonly image?: string;
  readonly build: boolean;
  readonly profiles: readonly string[];
  readonly containerName?: string;
  readonly ports: readonly PublishedPort[];
  /** Variable → value as written (null: passed through from the environment). */
  readonly environment: Readonly<Record<string, string | null>>;
  readonly user?: string;
  readonly readOnly?: boolean;
  readonly privileged?: boolean;
  readonly restart?: string;
  readonly networkMode?: string;
  /** Keys of top-level `networks` this service joins (`default` when it names none). */
  readonly networks: readonly string[];
  /** Secret names (top-level `secrets` keys). */
  readonly secrets: readonly string[];
  /** Named volumes (top-level `volumes` keys) this service mounts. */
  readonly volumes: readonly string[];
}

export interface ComposeModel {
  readonly files: readonly string[];
  readonly services: Readonly<Record<string, ComposeService>>;
  readonly volumes: Readonly<Record<string, { readonly name: string; readonly external: boolean }>>;
  readonly networks: Readonly<Record<string, { readonly name: string; readonly external: boolean; readonly internal: boolean }>>;
  /** Secret name → absolute host path of its file (undefined for external secrets). */
  readonly secrets: Readonly<Record<string, { readonly file?: string; readonly external: boolean }>>;
}

type Map_ = Record<string, unknown>;

function asMap(v: unknown): Map_ {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Map_) : {};
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return undefined;
}

/** `external: true`, or the v2 form `external: { name: x }`. */
function externalName(v: unknown): { external: boolean; name?: string } {
  if (v === true || v === 'true') return { external: true };
  const m = asMap(v);
  if (Object.keys(m).length) return { external: true, name: str(m.name) };
  return { external: false };
}

function serviceVolumes(v: unknown, declared: Map_): string[] {
  const out: string[] = [];
  for (const item of Array.isArray(v) ? v : []) {
    const source = typeof item === 'string' ? item.split(':')[0] : str(asMap(item).source);
    if (source && source in declared) out.push(source);
  }
  return out;
}

function service(raw: Map_, volumes: Map_): ComposeService {
  const env = listToMap(raw.environment);
  const networks = raw.networks === undefined ? (raw.network_mode ? [] : ['default']) : Object.keys(Array.isArray(raw.networks) ? Object.fromEntries(raw.networks.map((n) => [String(n), null])) : asMap(raw.networks));
  const secrets = (Array.isArray(raw.secrets) ? raw.secrets : []).map((s) => (typeof s === 'string' ? s : str(asMap(s).source) ?? '')).filter(Boolean);
  return {
    image: str(raw.image),
    build: raw.build !== undefined,
    profiles: Array.isArray(raw.profiles) ? raw.profiles.map(String) : [],
    containerName: str(raw.container_name),
    ports: (Array.isArray(raw.ports) ? raw.ports : []).flatMap(parsePortSpec),
    environment: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null || v === undefined ? null : String(v)])),
    user: str(raw.user),
    readOnly: bool(raw.read_only),
    privileged: bool(raw.privileged),
    restart: str(raw.restart),
    networkMode: str(raw.network_mode),
    networks,
    secrets,
    volumes: serviceVolumes(raw.volumes, volumes),
  };
}

/**
 * Merges parsed (and interpolated) compose documents in order and names things as compose does:
 * `<project>_<key>` unless `name:` says otherwise; relative secret files resolve against `baseDir`
 * (the directory of the first file, compose's project directory).
 */
export function buildComposeModel(docs: readonly unknown[], files: readonly string[], project: string, baseDir: string): ComposeModel {
  const merged = asMap(docs.reduce((acc: unknown, d) => mergeCompose(acc, d), {}));
  const rawVolumes = asMap(merged.volumes);
  const services = Object.fromEntries(Object.entries(asMap(merged.services)).map(([name, raw]) => [name, service(asMap(raw), rawVolumes)]));
  const volumes = Object.fromEntries(Object.entries(rawVolumes).map(([key, raw]) => {
    const ext = externalName(asMap(raw).external);
    return [key, { name: str(asMap(raw).name) ?? ext.name ?? (ext.external ? key : `${project}_${key}`), external: ext.external }];
  }));
  const rawNetworks = asMap(merged.networks);
  const usesDefault = Object.values(services).some((s) => s.networks.includes('default'));
  if (usesDefault && !('default' in rawNetworks)) rawNetworks.default = {};
  const networks = Object.fromEntries(Object.entries(rawNetworks).map(([key, raw]) => {
    const m = asMap(raw);
    const ext = externalName(m.external);
    return [key, { name: str(m.name) ?? ext.name ?? (ext.external ? key : `${project}_${key}`), external: ext.external, internal: bool(m.internal) ?? false }];
  }));
  const secrets = Object.fromEntries(Object.entries(asMap(merged.secrets)).map(([key, raw]) => {
    const m = asMap(raw);
    const file = str(m.file);
    return [key, { file: file ? posix.resolve(baseDir, file) : undefined, external: externalName(m.external).external }];
  }));
  return { files, services, volumes, networks, secrets };
}
