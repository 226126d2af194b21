/**
 * Compose overlay merging, as `docker compose -f a.yml -f b.yml` does it, for the parts cdb reads.
 * Pure functions on parsed YAML.
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
