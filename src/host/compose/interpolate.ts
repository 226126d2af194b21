/**
 * Compose variable interpolation on parsed YAML. Variables come from the stack's `.env` (parsed by
 * dotenv in read.ts); the worker's own environment is not the shell the stack was started from.
 */

type Json = unknown;

function isMap(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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
