import { createHash } from 'node:crypto';
import type { Config } from '../../shared/config/schema.ts';
import type { RotationPlan } from '../../shared/contracts/rotation.ts';
import { OpsError } from '../../shared/errors.ts';
import type { RotationMode } from './engine.ts';
import { kindFor, managedSecret } from './registry.ts';
import { stepsOf } from './run.ts';

/** What `/cdb rotate` will do, for the approval request; its fingerprint is pinned into the request. */
export function buildRotationPlan(config: Config, secret: string, mode: RotationMode, dryRun?: readonly string[]): RotationPlan {
  const spec = managedSecret(config, secret);
  const kind = kindFor(spec);
  stepsOf(kind, mode);
  const p = mode === 'rotate' ? kind.plan(spec) : kind.modes?.[mode]?.plan(spec);
  if (!p) throw new OpsError('BAD_ARGUMENTS', `Secrets of kind ${spec.kind} have no --${mode}.`);
  const body = {
    secret: spec.name, kind: spec.kind, mode, file: spec.file, steps: p.steps, restarts: p.restarts,
    consumers: spec.consumers.map((c) => c.service), expectedDowntimeMs: p.expectedDowntimeMs, warnings: p.warnings,
    ...(dryRun ? { dryRun } : {}),
  };
  const fingerprint = createHash('sha256').update(JSON.stringify({ ...body, options: spec.options, consumers: spec.consumers })).digest('hex').slice(0, 16);
  return { ...body, fingerprint };
}

export const modeOf = (a: { setup?: true; finish?: true }): RotationMode => (a.setup ? 'setup' : a.finish ? 'finish' : 'rotate');
