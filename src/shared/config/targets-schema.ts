import { z } from 'zod';

/** A target's name: short, lowercase, and usable in a BullMQ queue name (`jobs-<name>`). */
export const targetName = z.string().regex(/^[a-z][a-z0-9-]{0,23}$/, 'a target name such as web (lowercase letters, digits and -)');

/**
 * `targets[]`: the stacks this bot manages (docs/targets.md). How a target is reached follows from
 * `docker`: `unix://` means a worker runs **on that host** (started with `CDB_TARGET=<name>`),
 * `ssh://user@host` a central worker that reaches it over SSH with a pinned host key.
 */
export const targetSchema = z
  .object({
    name: targetName,
    project: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'a compose project name (lowercase letters, digits, - and _)'),
    composeFiles: z.array(z.string().min(1)).default([]),
    docker: z
      .string()
      .regex(/^(unix:\/\/\/[\w./-]+|tcp:\/\/[\w.-]+:\d+|ssh:\/\/[a-z_][a-z0-9_-]*@[\w.-]+(:\d+)?)$/, 'unix:///var/run/docker.sock, tcp://host:2375 or ssh://user@host[:port]')
      .default('unix:///var/run/docker.sock'),
  })
  .strict();
export type TargetConfig = z.infer<typeof targetSchema>;

export const targetsSection = z
  .array(targetSchema)
  .max(100)
  .refine((ts) => new Set(ts.map((t) => t.name)).size === ts.length, 'target names must be unique')
  .optional();

/**
 * With `targets:` and no `stack:`, the default target (or the first) stands in for `stack`, so code
 * that reads `config.stack` keeps working; each worker gets a per-target view (src/shared/targets.ts).
 */
export function fillStackFromTargets(doc: Record<string, unknown>): Record<string, unknown> {
  const targets = doc.targets;
  if (doc.stack !== undefined || !Array.isArray(targets) || !targets.length) return doc;
  const wanted = typeof doc.defaultTarget === 'string' ? doc.defaultTarget : undefined;
  const t = (targets.find((x: { name?: unknown }) => x?.name === wanted) ?? targets[0]) as Record<string, unknown>;
  return { ...doc, stack: { project: t.project, ...(t.docker ? { docker: t.docker } : {}), ...(t.composeFiles ? { composeFiles: t.composeFiles } : {}) } };
}
