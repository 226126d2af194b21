import { CHECK_IDS, type CheckId } from '../../../shared/contracts/doctor.ts';
import type { Check } from '../types.ts';
import { capabilities } from './capabilities.ts';
import { composeDrift } from './compose-drift.ts';
import { containerHealth } from './container-health.ts';
import { dockerSocket } from './docker-socket.ts';
import { healthcheck } from './healthcheck.ts';
import { hostNamespaces } from './host-namespaces.ts';
import { logLimits } from './log-limits.ts';
import { memoryLimit } from './memory-limit.ts';
import { networkIntegrity } from './network-integrity.ts';
import { noNewPrivileges } from './no-new-privileges.ts';
import { orphanContainers } from './orphan-containers.ts';
import { orphanVolumes } from './orphan-volumes.ts';
import { passwordContract } from './password-contract.ts';
import { pidsLimit } from './pids-limit.ts';
import { portConflicts } from './port-conflicts.ts';
import { portExposure } from './port-exposure.ts';
import { privileged } from './privileged.ts';
import { restartPolicy } from './restart-policy.ts';
import { rootfsWritable } from './rootfs-writable.ts';
import { runAsRoot } from './run-as-root.ts';
import { secretFiles } from './secret-files.ts';

/**
 * The one place checks are registered. Keyed by the published ids (src/shared/contracts/doctor.ts), so the
 * compiler rejects a published check without an implementation and an implementation nobody listed.
 */
const REGISTRY: { readonly [K in CheckId]: Check } = {
  'orphan-containers': orphanContainers,
  'orphan-volumes': orphanVolumes,
  'port-exposure': portExposure,
  'port-conflicts': portConflicts,
  'secret-files': secretFiles,
  'password-contract': passwordContract,
  'network-integrity': networkIntegrity,
  'compose-drift': composeDrift,
  'container-health': containerHealth,
  'run-as-root': runAsRoot,
  privileged,
  capabilities,
  'no-new-privileges': noNewPrivileges,
  'host-namespaces': hostNamespaces,
  'docker-socket': dockerSocket,
  'rootfs-writable': rootfsWritable,
  'memory-limit': memoryLimit,
  'pids-limit': pidsLimit,
  healthcheck,
  'restart-policy': restartPolicy,
  'log-limits': logLimits,
};

/** Checks in report order (the order of the published list). */
export const ALL_CHECKS: readonly Check[] = CHECK_IDS.map((id) => REGISTRY[id]);

export function checksFor(ids: readonly CheckId[] | undefined): Check[] {
  return ids?.length ? ALL_CHECKS.filter((c) => ids.includes(c.id)) : [...ALL_CHECKS];
}
