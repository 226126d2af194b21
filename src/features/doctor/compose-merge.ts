/**
 * Compose overlay merging and variable interpolation, as `docker compose -f a.yml -f b.yml` does it,
 * for the parts the doctor reads. Pure functions on parsed YAML.
 */

type Json = unknown;

function isMap(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keys whose list form (`- KEY=value`) is a mapping in disguise: merged by key, not appended. */
const LIST_MAPS = new Set(['environment', 'labels', 'extra_hosts', 'sysctls', 'args', 'annotations']);
/** Keys an overlay replaces outright instead of merging. */
const REPLACED = new Set(['command', 'entrypoint', 'test', 'profiles']);

export function listToMap(value: Json, sep = '='): Record<string, Json> {
  if (isMap(value)) return value;
  const out: Record<string, Json> = {};
  if (!Array.isArray(value)) return out;
  for (const item of value) {
    const s = String(item);
    const i = s.indexOf(sep);
    if (i < 0) out[s] = null;
    else out[s.slice(0, i)] = s.slice(i + 1);
  }
  return out;
}

function uniqueConcat(a: Json[], b: Json[]): Json[] {
  const seen = new Set(a.map((x) => JSON.stringify(x)));
  return [...a, ...b.filter((x) => !seen.has(JSON.stringify(x)))];
}

/** Merges `over` onto `base`: mappings recursively, lists appended (deduplicated), scalars replaced. */
export function mergeCompose(base: Json, over: Json, key = ''): Json {
  if (over === undefined) return base;
  if (REPLACED.has(key)) return over;
  if (LIST_MAPS.has(key) && (Array.isArray(base) || Array.isArray(over))) {
    return mergeCompose(listToMap(base), listToMap(over), `${key}#map`);
  }
  if (key === 'networks' && (Array.isArray(base) || Array.isArray(over))) {
    const asMap = (v: Json) => (Array.isArray(v) ? Object.fromEntries(v.map((n) => [String(n), null])) : v);
    return mergeCompose(asMap(base), asMap(over), 'networks#map');
  }
  if (isMap(base) && isMap(over)) {
    const out: Record<string, Json> = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = k in base ? mergeCompose(base[k], v, k) : v;
    return out;
  }
  if (Array.isArray(base) && Array.isArray(over)) return uniqueConcat(base, over);
  return over;
}

const VAR = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/**
 * `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR:+alt}`, `$VAR`, `$$`.
 * Lenient where compose would stop (`:?` on an unset variable gives ''): the doctor reports what it
 * can rather than nothing.
 */
export function interpolate(text: string, env: Readonly<Record<string, string | undefined>>): string {
  return text.replace(VAR, (whole, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare) as string;
    const value = env[name];
    const set = value !== undefined;
    const nonEmpty = set && value !== '';
    switch (op) {
      case ':-': return nonEmpty ? (value as string) : (arg ?? '');
      case '-': return set ? (value as string) : (arg ?? '');
      case ':+': return nonEmpty ? (arg ?? '') : '';
      case '+': return set ? (arg ?? '') : '';
      default: return value ?? '';
    }
  });
}

/** Interpolates every string in a parsed document (keys stay as written, as compose does). */
export function interpolateDeep(doc: Json, env: Readonly<Record<string, string | undefined>>): Json {
  if (typeof doc === 'string') return interpolate(doc, env);
  if (Array.isArray(doc)) return doc.map((d) => interpolateDeep(d, env));
  if (isMap(doc)) return Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, interpolateDeep(v, env)]));
  return doc;
}

/** A `.env` file: KEY=value lines, `#` comments, optional quotes; no expansion. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2] as string;
    const q = value[0];
    if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) value = value.slice(1, -1);
    else value = value.replace(/\s+#.*$/, '');
    out[m[1] as string] = value;
  }
  return out;
}
