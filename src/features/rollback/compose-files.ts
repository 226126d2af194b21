import { dirname, isAbsolute, join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Config } from '../../shared/config/schema.ts';
import type { HostFiles } from '../../host/host-files.ts';
import { readComposeFiles, type ComposeSource } from '../../host/compose/read.ts';

export interface ComposeFacts {
  /** The `version:` of the first file; docker-compose 1.x refuses an overlay whose version differs. */
  readonly version?: string;
  /** service → services it needs first (depends_on, links, network_mode/ipc/pid service:, volumes_from). */
  readonly dependsOn: ReadonlyMap<string, ReadonlySet<string>>;
  /** Every service some file declares: only these may be pinned (an overlay service no file declares is a new service to compose). */
  readonly declared: ReadonlySet<string>;
  /** Files that could not be read or parsed; dependency order then falls back to container labels. */
  readonly problems: readonly string[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function serviceRef(value: unknown): string | undefined {
  return typeof value === 'string' && value.startsWith('service:') ? value.slice(8) : undefined;
}

/** The services one compose service definition names as dependencies. */
export function dependenciesOf(def: Record<string, unknown>): string[] {
  const deps = new Set<string>();
  const dependsOn = def.depends_on;
  if (Array.isArray(dependsOn)) for (const d of dependsOn) if (typeof d === 'string') deps.add(d);
  if (isRecord(dependsOn)) for (const d of Object.keys(dependsOn)) deps.add(d);
  if (Array.isArray(def.links)) for (const l of def.links) if (typeof l === 'string') deps.add(l.split(':')[0] ?? l);
  for (const key of ['network_mode', 'ipc', 'pid']) {
    const s = serviceRef(def[key]);
    if (s) deps.add(s);
  }
  if (Array.isArray(def.volumes_from)) {
    for (const v of def.volumes_from) {
      if (typeof v === 'string' && !v.startsWith('container:')) deps.add(v.split(':')[0] ?? v);
    }
  }
  return [...deps];
}

/** Merges what the stack's compose files say, in order, the way `-f a -f b` does for these keys. */
export function composeFacts(sources: readonly ComposeSource[]): ComposeFacts {
  const dependsOn = new Map<string, Set<string>>();
  const declared = new Set<string>();
  const problems: string[] = [];
  let version: string | undefined;
  sources.forEach((source, i) => {
    if (source.problem) {
      problems.push(`${source.path}: ${source.problem.detail}`);
      return;
    }
    const doc = source.doc;
    if (!isRecord(doc)) return;
    if (i === 0 && (typeof doc.version === 'string' || typeof doc.version === 'number')) version = String(doc.version);
    if (!isRecord(doc.services)) return;
    for (const [name, def] of Object.entries(doc.services)) {
      declared.add(name);
      if (!isRecord(def)) continue;
      const set = dependsOn.get(name) ?? new Set<string>();
      for (const d of dependenciesOf(def)) set.add(d);
      dependsOn.set(name, set);
    }
  });
  return { version, dependsOn, declared, problems };
}

export async function readComposeFacts(files: HostFiles, paths: readonly string[]): Promise<ComposeFacts> {
  return composeFacts((await readComposeFiles(files, paths)).sources);
}

export interface OverlayMeta {
  readonly updatedAt: string;
  readonly by: string;
  readonly requestId: string;
}

export interface Overlay {
  /** service → pinned image reference. */
  readonly pins: Readonly<Record<string, string>>;
  readonly meta?: OverlayMeta;
}

const META_PREFIX = '# cdb-rollback: ';

/**
 * The overlay pins images only. Metadata sits in a comment, not an `x-` key, because
 * compose file versions before 2.1/3.4 reject unknown top-level keys.
 */
export function renderOverlay(overlay: Overlay & { readonly version?: string }): string {
  const services: Record<string, { image: string }> = {};
  for (const [service, image] of Object.entries(overlay.pins).sort(([a], [b]) => a.localeCompare(b))) services[service] = { image };
  const doc: Record<string, unknown> = {};
  if (overlay.version) doc.version = overlay.version;
  doc.services = services;
  const header = [
    '# Written by cdb-chatops (/cdb rollback). Do not edit: it is rewritten by the next rollback.',
    '# It pins services to their rollback tags. While it exists, pass it last to compose:',
    '#   docker compose -f <your files> -f rollback.yml up -d',
    '# Remove the pin with /cdb rollback --clear (the next /cdb deploy removes it too). See runbooks/rollback.md.',
    ...(overlay.meta ? [`${META_PREFIX}${JSON.stringify(overlay.meta)}`] : []),
  ];
  return `${header.join('\n')}\n${stringify(doc)}`;
}

export function parseOverlay(text: string): Overlay {
  const pins: Record<string, string> = {};
  let meta: OverlayMeta | undefined;
  const line = text.split('\n').find((l) => l.startsWith(META_PREFIX));
  if (line) {
    try {
      const m: unknown = JSON.parse(line.slice(META_PREFIX.length));
      if (isRecord(m) && typeof m.updatedAt === 'string' && typeof m.by === 'string' && typeof m.requestId === 'string') {
        meta = { updatedAt: m.updatedAt, by: m.by, requestId: m.requestId };
      }
    } catch {
      // a hand-edited comment only loses the metadata, never the pins
    }
  }
  const doc: unknown = parse(text);
  if (isRecord(doc) && isRecord(doc.services)) {
    for (const [service, def] of Object.entries(doc.services)) {
      if (isRecord(def) && typeof def.image === 'string') pins[service] = def.image;
    }
  }
  return { pins, meta };
}

/** Where the overlay lives: `rollback.overlayPath`, else rollback.yml next to the first compose file. */
export function overlayPathFor(config: Pick<Config, 'stack' | 'rollback'>): string | undefined {
  const first = config.stack.composeFiles[0];
  const configured = config.rollback.overlayPath;
  if (configured && isAbsolute(configured)) return configured;
  if (!first) return undefined;
  return join(dirname(first), configured ?? 'rollback.yml');
}
