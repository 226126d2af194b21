import { OpsError } from '../../shared/errors.ts';
import type { RollbackManifest } from '../../shared/contracts/rollback.ts';
import { mapLimit } from '../../shared/map-limit.ts';
import type { RollbackEnv } from './env.ts';
import { assertTagName } from './naming.ts';
import { readComposeFacts } from './compose-files.ts';
import { computePlan, type ComputedPlan } from './plan.ts';
import { takeSnapshot, type StackSnapshot } from './snapshot.ts';

/** `latest` is the newest tag made with `/cdb tag`: a pre-rollback tag is an undo point, not a target. */
export async function resolveManifest(env: RollbackEnv, requested: string): Promise<RollbackManifest> {
  if (requested === 'latest') {
    const latest = (await env.store.list()).find((m) => m.kind === 'rollback');
    if (!latest) throw new OpsError('NOT_FOUND', `No tags for \`${env.project}\` yet. Make one with \`/cdb tag\` while the stack is in a good state.`);
    return latest;
  }
  assertTagName(requested);
  const manifest = await env.store.get(requested);
  if (!manifest) throw new OpsError('NOT_FOUND', `There is no tag \`${requested}\` for \`${env.project}\`. \`/cdb tags\` lists the ones there are.`);
  return manifest;
}

type ImageState = 'ok' | 'retag' | 'missing';

async function imageState(env: RollbackEnv, ref: string, imageId: string): Promise<ImageState> {
  const byRef = await env.docker.getImage(ref).inspect().catch(() => undefined);
  if (byRef?.Id === imageId) return 'ok';
  const byId = await env.docker.getImage(imageId).inspect().catch(() => undefined);
  return byId ? 'retag' : 'missing';
}

export interface BuiltPlan extends ComputedPlan {
  readonly manifest: RollbackManifest;
  readonly snapshot: StackSnapshot;
  /** Services whose rollback tag was removed while the image survived: tagged again before use. */
  readonly retag: readonly string[];
  /** Services the compose files declare; undefined when a file could not be read. */
  readonly declared?: ReadonlySet<string>;
}

/** Reads everything a plan needs (manifest, containers, compose files, images) and changes nothing. */
export async function buildPlan(env: RollbackEnv, requested: string, services?: readonly string[]): Promise<BuiltPlan> {
  if (requested !== 'latest') assertTagName(requested);
  const manifest = await resolveManifest(env, requested);
  const scope = (services ?? Object.keys(manifest.services)).filter((s) => manifest.services[s]);
  const [snapshot, facts, states] = await Promise.all([
    takeSnapshot(env.docker, env.project),
    readComposeFacts(env.files, env.config.stack.composeFiles),
    mapLimit(scope, 8, async (s) => {
      const m = manifest.services[s];
      return [s, m ? await imageState(env, m.ref, m.imageId) : 'missing'] as const;
    }),
  ]);
  if (snapshot.parked.length) env.log.warn({ parked: snapshot.parked.map((c) => c.name) }, 'containers parked by an interrupted rollback are left alone; see runbooks/rollback.md');
  if (facts.problems.length) env.log.warn({ problems: facts.problems }, 'compose files not fully readable; dependency order from container labels only');
  const computed = computePlan({
    manifest,
    requested,
    snapshot,
    services,
    composeDeps: facts.dependsOn,
    imageMissing: new Set(states.filter(([, st]) => st === 'missing').map(([s]) => s)),
    overlayPath: env.overlayPath,
  });
  const declared = facts.problems.length || !env.config.stack.composeFiles.length ? undefined : facts.declared;
  return { ...computed, manifest, snapshot, retag: states.filter(([, st]) => st === 'retag').map(([s]) => s), ...(declared ? { declared } : {}) };
}
