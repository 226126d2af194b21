import { z } from 'zod';
import { targetName } from './targets-schema.ts';

/** Secret and service names go into file names, Redis keys and Docker filters: a plain shape only. */
export const secretName = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'a secret name such as redis_password (lowercase letters, digits, _)');
const serviceName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'a compose service name');
const absPath = z.string().regex(/^\/[A-Za-z0-9._/@+-]+$/, 'an absolute path of letters, digits and ._/@+-').refine((p) => !p.split('/').includes('..'), 'no .. in paths');

export const ROTATION_KINDS = ['redis', 'api-key', 'app-secret', 'postgres', 'mariadb'] as const;

const consumer = z
  .object({
    service: serviceName,
    /** `restart`: reads the secret at start (restarted one container at a time); `none`: reads it on each use. */
    reload: z.enum(['restart', 'none']).default('restart'),
    /** argv run inside the container every 100 ms as the downtime probe; default: its healthcheck. */
    probe: z.array(z.string().min(1).max(500)).min(1).max(20).optional(),
    mountPath: absPath.optional(),
  })
  .strict();

const secret = z
  .object({
    name: secretName,
    /** Kinds of issue 12 plus any registered later (e.g. wireguard): checked against the worker's kind registry. */
    kind: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/),
    file: absPath,
    /**
     * With `targets:`: the target whose stack holds it (its worker rotates it); default: `defaultTarget`,
     * else the first target. Without `targets:` it must be absent.
     */
    target: targetName.optional(),
    scheduleDays: z.number().int().min(1).max(3650).optional(),
    consumers: z.array(consumer).max(50).default([]),
    options: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

/** `rotation`: managed secrets and how they are rotated (runbooks/secret-rotation.md). */
export const rotationSection = z
  .object({
    /** Root-only directory on the stack host for the pending and previous values during a rotation. */
    stateDir: absPath.default('/var/lib/cdb/rotation'),
    /** A worker that stops renewing its lease this long is presumed dead; the next one resumes. */
    leaseSeconds: z.number().min(1).max(600).default(15),
    healthTimeoutSeconds: z.number().int().min(5).max(600).default(60),
    /** api-key: how long `<name>_old` stays valid after a rotation. */
    apiKeyWindowHours: z.number().min(0.001).max(24 * 30).default(24),
    /** Due within this many days: marked "soon" and posted by the scheduled check. */
    dueSoonDays: z.number().int().min(0).max(90).default(7),
    /** Cron pattern of the overdue check (posts to channels.alerts, once per secret per day). */
    checkSchedule: z.string().regex(/^\S+(\s+\S+){4,5}$/, 'a cron pattern such as "0 9 * * *"').optional(),
    secrets: z
      .array(secret)
      .max(100)
      .default([])
      // `/cdb rotate wireguard <tunnel>` is the WireGuard form: a secret of that name could never be rotated.
      .refine((ss) => !ss.some((s) => s.name === 'wireguard'), 'no secret may be named wireguard (`/cdb rotate wireguard <tunnel>` rotates WireGuard tunnels); rename it'),
  })
  .strict()
  .prefault({});
export type RotationConfig = z.infer<typeof rotationSection>;
export type SecretConfig = z.infer<typeof secret>;
