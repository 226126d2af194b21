/**
 * LogQL text built from configuration and user input. Everything a user types ends up inside a
 * double-quoted LogQL string literal, escaped the way Loki's parser (Go's strconv.Unquote) reads it,
 * so no input can close the string, the selector or the query.
 */

export const MAX_FILTER_LENGTH = 200;

/** A LogQL (Go) double-quoted string literal holding exactly `value`. */
export function logqlString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else if (code >= 0xd800 && code <= 0xdfff) out += '\\ufffd'; // a lone surrogate: Go would not read it back
    else out += ch;
  }
  return `${out}"`;
}

/** Escapes RE2 metacharacters so that `value` matches literally inside a regular expression. */
export function regexLiteral(value: string): string {
  return value.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

export interface SelectorSettings {
  readonly project: string;
  readonly containerLabel: string;
  readonly selector?: string;
}

/** The configured stream selector, or one matching every container of the compose project. */
export function stackSelector(s: SelectorSettings): string {
  if (s.selector) return s.selector;
  // Compose v1 names containers project_service_1, v2 project-service-1; the seeds use cdb_<service>.
  return `{${s.containerLabel}=~${logqlString(`/?${regexLiteral(s.project)}[_-].+`)}}`;
}

/**
 * One query for the whole stack: error lines per container over the window. Its cost does not grow
 * with the number of containers (one series per container comes back from a single request).
 */
export function errorCountQuery(s: SelectorSettings & { errorPattern: string; errorWindow: string }): string {
  return `sum by (${s.containerLabel}) (count_over_time(${stackSelector(s)} |~ ${logqlString(s.errorPattern)} [${s.errorWindow}]))`;
}

/** A selector for exactly these containers (names as Docker reports them, leading / optional). */
export function containersSelector(containerLabel: string, names: readonly string[]): string {
  if (!names.length) throw new Error('containersSelector needs at least one name');
  const alternatives = [...new Set(names)].sort().map(regexLiteral).join('|');
  return `{${containerLabel}=~${logqlString(`/?(?:${alternatives})`)}}`;
}

/** A selector for a service whose containers Docker does not list (removed): the compose naming rule. */
export function serviceSelector(containerLabel: string, project: string, service: string): string {
  return `{${containerLabel}=~${logqlString(`/?${regexLiteral(project)}[_-]${regexLiteral(service)}(?:[_-]\\d+)?`)}}`;
}

/** Appends a case-sensitive substring filter (`|=`), the LogQL equivalent of grep. */
export function withLineFilter(selector: string, filter: string | undefined): string {
  if (filter === undefined || filter === '') return selector;
  if (filter.length > MAX_FILTER_LENGTH) throw new Error(`filter longer than ${MAX_FILTER_LENGTH} characters`);
  return `${selector} |= ${logqlString(filter)}`;
}

/** Appends a regular-expression filter (`|~`). */
export function withRegexFilter(selector: string, pattern: string): string {
  return `${selector} |~ ${logqlString(pattern)}`;
}
