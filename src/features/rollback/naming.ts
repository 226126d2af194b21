import { createHash } from 'node:crypto';
import { OpsError } from '../../shared/errors.ts';
import { TAG_NAME, type TagKind } from '../../shared/contracts/rollback.ts';

/** Local repository namespace of rollback tags; never pushed anywhere. */
export const ROLLBACK_REPO_ROOT = 'cdb-rollback';

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** YYYYMMDD-HHMMSS in UTC. */
export function stamp(date: Date): string {
  return `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}-${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`;
}

export function newTagName(kind: TagKind, date: Date, label?: string): string {
  const name = `${kind}-${stamp(date)}${label ? `-${label}` : ''}`;
  if (!TAG_NAME.test(name)) throw new OpsError('BAD_ARGUMENTS', `\`${name}\` is not a valid tag name.`);
  return name;
}

/** Guards every path that turns a name into a Docker call, file name or key, whatever the caller checked. */
export function assertTagName(name: string): void {
  if (!TAG_NAME.test(name)) {
    throw new OpsError('BAD_ARGUMENTS', `\`${name.slice(0, 60)}\` is not a tag name. Tags look like rollback-20251224-153000 or rollback-20251224-153000-label; \`/cdb tags\` lists them.`);
  }
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/**
 * A Docker repository path component for a compose name. Compose accepts names Docker does not
 * (uppercase, `a..b`); those get a cleaned form plus a short hash so two names never share a repository.
 */
export function repoComponent(name: string): string {
  if (COMPONENT.test(name)) return name;
  const cleaned = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
  return `${cleaned}-${createHash('sha256').update(name).digest('hex').slice(0, 6)}`;
}

/** One repository per project and service, so services sharing a repository upstream never collide. */
export function rollbackRepo(project: string, service: string): string {
  return `${ROLLBACK_REPO_ROOT}/${repoComponent(project)}/${repoComponent(service)}`;
}

export function rollbackRef(project: string, service: string, tag: string): string {
  return `${rollbackRepo(project, service)}:${tag}`;
}

/** The tag part of one of our refs, or undefined for any other image reference. */
export function tagOfRef(ref: string): string | undefined {
  if (!ref.startsWith(`${ROLLBACK_REPO_ROOT}/`)) return undefined;
  const tag = ref.slice(ref.lastIndexOf(':') + 1);
  return TAG_NAME.test(tag) ? tag : undefined;
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
