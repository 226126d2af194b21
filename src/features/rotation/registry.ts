import type { Config } from '../../shared/config/schema.ts';
import { OpsError } from '../../shared/errors.ts';
import type { RotationKind, SecretSpec } from './engine.ts';
import { apiKeyKind } from './kinds/api-key.ts';
import { appSecretKind } from './kinds/app-secret.ts';
import { databaseKind } from './kinds/database.ts';
import { redisKind } from './kinds/redis.ts';

/** Kind name → implementation. A new kind (e.g. wireguard) adds one line here. */
export const KINDS: ReadonlyMap<string, RotationKind<object>> = new Map<string, RotationKind<object>>([
  ['redis', redisKind],
  ['api-key', apiKeyKind],
  ['app-secret', appSecretKind],
  ['postgres', databaseKind('postgres')],
  ['mariadb', databaseKind('mariadb')],
]);

/** The configured secret by name; unknown names are refused with the list of managed ones. */
export function managedSecret(config: Config, name: string): SecretSpec {
  const found = config.rotation.secrets.find((s) => s.name === name);
  if (!found) {
    const known = config.rotation.secrets.map((s) => `\`${s.name}\``).join(', ') || 'none (rotation.secrets is empty)';
    throw new OpsError('UNKNOWN_SECRET', `\`${name}\` is not a managed secret. Managed secrets: ${known}. \`/cdb secrets\` lists every secret, managed or not.`);
  }
  const kind = KINDS.get(found.kind);
  const options = found.kind === 'api-key' ? { windowHours: config.rotation.apiKeyWindowHours, ...found.options } : found.options;
  return { name: found.name, kind: found.kind, file: found.file, consumers: found.consumers, scheduleDays: found.scheduleDays ?? kind?.defaultScheduleDays ?? 90, options };
}

export function kindFor(spec: SecretSpec): RotationKind<object> {
  const kind = KINDS.get(spec.kind);
  if (!kind) throw new OpsError('CONFIG_INVALID', `Secret ${spec.name} has kind ${spec.kind}, which this worker does not know (${[...KINDS.keys()].join(', ')}).`);
  return kind;
}
