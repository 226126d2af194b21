import { z } from 'zod';
import { serviceName } from './status.ts';

/**
 * What the alert root message's buttons carry, shared by the worker (which renders them) and the
 * bot (which handles the clicks). The value is echoed back by Slack, so the bot validates it again.
 */
export const ALERT_ACTION = {
  logs: 'cdb_alert_logs',
  restart: 'cdb_alert_restart',
  doctor: 'cdb_alert_doctor',
  rollback: 'cdb_alert_rollback',
} as const;
export type AlertActionId = (typeof ALERT_ACTION)[keyof typeof ALERT_ACTION];
export const ALERT_ACTION_IDS: readonly AlertActionId[] = Object.values(ALERT_ACTION);

export const containerName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/, 'a container name');

export const alertButtonValueSchema = z
  .object({
    /** Compose service of the container; what `/cdb logs` and `/cdb restart` take. */
    service: serviceName,
    container: containerName,
    incident: z.string().regex(/^[a-zA-Z0-9_.:-]{1,100}$/),
    /** The target the incident is on (several targets): the buttons' commands get `--on <target>`. */
    target: z.string().regex(/^[a-z][a-z0-9-]{0,23}$/).optional(),
  })
  .strict();
export type AlertButtonValue = z.infer<typeof alertButtonValueSchema>;
