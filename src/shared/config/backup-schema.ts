import { z } from 'zod';

const composeName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'a compose service or volume name');
const absolutePath = z.string().regex(/^\/[A-Za-z0-9._/@+-]*$/, 'an absolute path of letters, digits and ._/@+-').refine((p) => !p.split('/').includes('..'), 'no .. in the path');

/** `backup`: backups, restore and the DR drill (runbooks/disaster-recovery.md). Everything is optional. */
export const backupSection = z
  .object({
    /** Where backups are written on the worker host (one directory per backup, files 0600). */
    dir: absolutePath.default('/var/lib/cdb/backups'),
    /**
     * Database services to back up; default: every container of the project that runs PostgreSQL,
     * MariaDB/MySQL or Redis (found by its processes, not by image name).
     */
    services: z.array(composeName).optional(),
    /** Named volumes to back up (short names as in the compose file, or full names); default: the project's named volumes no database uses. */
    volumes: z.array(composeName).optional(),
    /** Components never backed up (services or volumes). */
    exclude: z.array(composeName).default([]),
    /** age recipient (public key, `age1…`): artifacts are encrypted to it. Absent: unencrypted, files 0600. */
    recipient: z.string().regex(/^age1[0-9a-z]{20,}$/, 'an age recipient such as age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p').optional(),
    /** File holding the age identity (`AGE-SECRET-KEY-1…`): only restore and drill read it. */
    identityFile: absolutePath.optional(),
    /** Retention: the newest `keep` backups, plus the newest of each of the last `keepDays` days. */
    /**
     * pg_dump's compression level (custom format, gzip). 1, not pg_dump's default 6: on pgbench-like
     * data the file is 2 % larger and the dump a quarter faster (BENCHMARKS.md), and on a small host
     * that CPU is what the dump, the application and the row count share. 0 sends the dump
     * uncompressed through the Engine API, which costs dockerd more than the compression saves.
     */
    pgCompressLevel: z.number().int().min(0).max(9).default(1),
    keep: z.number().int().min(1).max(1000).default(7),
    keepDays: z.number().int().min(0).max(3650).default(14),
    /** service → services to stop while it is restored; default: the compose files' depends_on (reversed). */
    dependents: z.record(composeName, z.array(composeName)).default({}),
    /** How long restored and restarted services may take to be healthy. */
    healthTimeoutSeconds: z.number().int().min(5).max(1800).default(120),
    /** Cron pattern of the scheduled drill (latest backup; report to channels.alerts, incident on failure). */
    drillSchedule: z.string().regex(/^\S+(\s+\S+){4,5}$/, 'a cron pattern such as "0 3 * * 1"').optional(),
    /** Off-site copy over SFTP, verified by size and sha256 after upload. */
    offsite: z
      .object({
        host: z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, 'a host name or IPv4 address'),
        port: z.number().int().min(1).max(65535).default(22),
        username: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a user name'),
        privateKeyFile: absolutePath,
        /** known_hosts with the host's key: nothing else is accepted. */
        knownHostsFile: absolutePath,
        dir: absolutePath,
      })
      .strict()
      .optional(),
  })
  .strict()
  .prefault({});
export type BackupConfig = z.infer<typeof backupSection>;
