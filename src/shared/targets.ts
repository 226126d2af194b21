import type { Config } from './config/schema.ts';
import { OpsError } from './errors.ts';

/** The single-stack config of old is one target with this name, served by the `jobs` queue. */
export const IMPLICIT_TARGET = 'default';

export interface TargetRef {
  readonly name: string;
  /** The BullMQ queue of its jobs. */
  readonly queue: string;
  /** Declared under `targets:` (false: today's single `stack`). */
  readonly explicit: boolean;
  readonly project: string;
  readonly docker: string;
  readonly composeFiles: readonly string[];
}

export function jobsQueueName(target: string | undefined): string {
  return !target || target === IMPLICIT_TARGET ? 'jobs' : `jobs-${target}`;
}

export function listTargets(config: Pick<Config, 'stack' | 'targets'>): TargetRef[] {
  if (!config.targets?.length) {
    return [{ name: IMPLICIT_TARGET, queue: 'jobs', explicit: false, project: config.stack.project, docker: config.stack.docker, composeFiles: config.stack.composeFiles }];
  }
  return config.targets.map((t) => ({ name: t.name, queue: jobsQueueName(t.name), explicit: true, project: t.project, docker: t.docker, composeFiles: t.composeFiles }));
}

export function isMultiTarget(config: Pick<Config, 'targets'>): boolean {
  return (config.targets?.length ?? 0) > 1;
}

export function targetList(config: Pick<Config, 'stack' | 'targets'>): string {
  return listTargets(config).map((t) => `\`${t.name}\``).join(', ');
}

/**
 * Which target a command is for: `--on <name>`, else the only target, else `defaultTarget`.
 * Unknown or ambiguous names are refused with the list of targets.
 */
export function resolveTarget(config: Pick<Config, 'stack' | 'targets' | 'defaultTarget'>, requested: string | undefined, command: string): TargetRef {
  const all = listTargets(config);
  if (requested !== undefined) {
    const hit = all.find((t) => t.name === requested);
    if (!hit) throw new OpsError('TARGET_UNKNOWN', `There is no target \`${requested.slice(0, 30)}\`. Targets: ${targetList(config)}.`);
    return hit;
  }
  if (all.length === 1) return all[0] as TargetRef;
  const fallback = config.defaultTarget ? all.find((t) => t.name === config.defaultTarget) : undefined;
  if (fallback) return fallback;
  throw new OpsError('TARGET_AMBIGUOUS', `Which target? This bot manages ${all.length}: ${targetList(config)}. Add \`--on <target>\`, e.g. \`/cdb ${command} --on ${all[0]?.name ?? 'web'}\`.`);
}

/**
 * The config as a job on `target` sees it: `stack` is the target's stack, and `target` says which
 * one (key prefixes and queue names follow). Everything else is shared.
 */
export function configForTarget(config: Config, name: string): Config {
  const t = listTargets(config).find((x) => x.name === name);
  if (!t) throw new OpsError('CONFIG_INVALID', `CDB_TARGET names \`${name}\`, which is not in the configuration. Targets: ${targetList(config)}.`);
  if (!t.explicit) return config;
  // Each secret is rotated on its own target's stack; unbound ones belong to the target `stack` stands for.
  const home = config.defaultTarget ?? config.targets?.[0]?.name;
  return Object.freeze({
    ...config,
    rotation: Object.freeze({ ...config.rotation, secrets: config.rotation.secrets.filter((s) => (s.target ?? home) === t.name) }),
    stack: Object.freeze({ project: t.project, docker: t.docker, composeFiles: [...t.composeFiles] }),
    target: Object.freeze({ name: t.name, queue: t.queue }),
  });
}
