import { createHash } from 'node:crypto';
import type { Finding } from '../../shared/contracts/doctor.ts';

/**
 * What counts as "the findings changed" for the scheduled doctor: which problems exist, not their
 * wording (a restart count in a detail must not re-alert every run).
 */
export function findingKeys(findings: readonly Finding[]): string[] {
  const keys = findings.filter((f) => f.status !== 'pass').map((f) => `${f.check}|${f.status}|${f.target}|${f.name}`);
  return [...new Set(keys)].sort();
}

export function digestOf(keys: readonly string[]): string {
  return createHash('sha256').update(keys.join('\n')).digest('hex');
}

export interface FindingDiff {
  readonly added: string[];
  readonly resolved: string[];
}

export function diffKeys(before: readonly string[], after: readonly string[]): FindingDiff {
  const b = new Set(before);
  const a = new Set(after);
  return { added: after.filter((k) => !b.has(k)), resolved: before.filter((k) => !a.has(k)) };
}
