import { redactText } from '../../shared/log.ts';

/**
 * Log lines leave the worker only through here: secrets masked, terminal escapes and control
 * characters removed, length bounded. Applications log their configuration more often than
 * anyone would like; the patterns below catch the common shapes, not every possible secret.
 */
const MASK = '[REDACTED]';

const RULES: ReadonlyArray<[RegExp, string | ((...m: string[]) => string)]> = [
  // PEM blocks (a key logged on one line, or the header of one).
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, `-----BEGIN PRIVATE KEY----- ${MASK}`],
  // Authorization schemes: the credential has a digit somewhere, "token bucket" does not.
  [/\b([Bb]earer|BEARER|[Bb]asic|BASIC|Token)\s+(?=[A-Za-z._~+/=-]*\d)[A-Za-z0-9._~+/=-]{6,}/g, (_m, scheme) => `${scheme} ${MASK}`],
  // Credentials inside URLs: scheme://user:password@host
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]+@/gi, (_m, head) => `${head}:${MASK}@`],
  // key=value, key: value, "key": "value" for secret-looking keys.
  [
    // The key starts at a boundary: `/run/secrets/db_password: is a directory` names a file, not a value.
    /(?<![/\w.-])((?:["']?)[\w.-]*(?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|auth[_-]?key|session[_-]?id|cookie)[\w.-]*["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&"'}]+)/gi,
    (_m, key, value) => `${key}${value.startsWith('"') ? `"${MASK}"` : value.startsWith("'") ? `'${MASK}'` : MASK}`,
  ],
  // Well-known token shapes.
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b/g, MASK], // JWT
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/g, MASK], // AWS access key id
  [/\bgh[pousr]_[A-Za-z0-9]{30,}\b/g, MASK], // GitHub
  [/\bglpat-[A-Za-z0-9_-]{20,}\b/g, MASK], // GitLab
  [/\bsk-[A-Za-z0-9_-]{20,}\b/g, MASK], // API keys in the sk- style
];

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[@-Z\\-_]/g;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g;

export const MAX_LINE_LENGTH = 500;

/** Masks secret-looking substrings in one line of text. */
export function redactSecrets(text: string): string {
  let out = redactText(text);
  for (const [re, by] of RULES) out = out.replace(re, by as (substring: string, ...args: string[]) => string);
  return out;
}

/** A log line fit to leave the worker: escapes stripped, secrets masked, at most `max` characters. */
export function redactLine(line: string, max = MAX_LINE_LENGTH): string {
  const clean = redactSecrets(line.replace(ANSI, '').replace(/\r?\n|\r/g, ' ⏎ ').replace(/\t/g, '  ').replace(CONTROL, ''));
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}…`;
}

/** The part of a line that identifies "the same error": no timestamps, ids or numbers. */
export function fingerprintLine(line: string): string {
  return line
    .replace(/^\s*(\[?\d{4}-\d\d-\d\d[T ][\d:.,]+(Z|[+-]\d\d:?\d\d)?\]?|\d{10,19}|[A-Z][a-z]{2} +\d+ [\d:]+)\s*/, '')
    .replace(/\b(ts|time|timestamp)=\S+\s*/g, '')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '#')
    .replace(/\b[0-9a-f]{12,}\b/gi, '#')
    .replace(/\d+(\.\d+)?/g, '#')
    .trim();
}

export interface DedupedLine {
  readonly line: string;
  readonly count: number;
  /** Newest occurrence, ns since the epoch. */
  readonly lastNs: string;
}

/**
 * Collapses repeats (same fingerprint) and keeps the most frequent, then the newest, lines.
 * Input lines must already be redacted; order of input is newest first.
 */
export function dedupeLines(entries: ReadonlyArray<{ ns: string; line: string }>, max: number): DedupedLine[] {
  const groups = new Map<string, { line: string; count: number; lastNs: string; order: number }>();
  entries.forEach((e, order) => {
    const key = fingerprintLine(e.line);
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { line: e.line, count: 1, lastNs: e.ns, order });
  });
  return [...groups.values()]
    .sort((a, b) => b.count - a.count || a.order - b.order)
    .slice(0, max)
    .map(({ line, count, lastNs }) => ({ line, count, lastNs }));
}
