import { z } from 'zod';
import { tunnelName } from '../config/wireguard-schema.ts';
import { rotateArgs, type RotateArgs } from './rotation.ts';

/** The first word of `/cdb rotate wireguard <tunnel>`; no managed secret may have this name (config validation). */
export const WIREGUARD_WORD = 'wireguard';

/** `/cdb rotate wireguard <tunnel>`: the tunnel's name from `wireguard.tunnels`. The job `rotate-wireguard` gets these. */
export const rotateWireguardArgs = z.object({ secret: z.literal(WIREGUARD_WORD), tunnel: tunnelName }).strict();
export type RotateWireguardArgs = z.infer<typeof rotateWireguardArgs>;

export type RotateCommandArgs = RotateArgs | RotateWireguardArgs;

export const isWireguardArgs = (a: unknown): a is RotateWireguardArgs => typeof a === 'object' && a !== null && (a as { secret?: unknown }).secret === WIREGUARD_WORD;

/**
 * The `rotate` command's arguments: `wireguard <tunnel>` or `<secret> [--setup|--finish]`. The first
 * word picks the schema, so each form's errors are its own (a union would only say "invalid input").
 */
export const rotateCommandArgs = z.unknown().transform((input, ctx): RotateCommandArgs => {
  const wg = isWireguardArgs(input);
  if (wg && (input as { tunnel?: unknown }).tunnel === undefined) {
    ctx.addIssue({ code: 'custom', message: 'name the tunnel: `/cdb rotate wireguard <tunnel>`', input });
    return z.NEVER;
  }
  if (!wg && typeof input === 'object' && input !== null && (input as { tunnel?: unknown }).tunnel !== undefined) {
    ctx.addIssue({ code: 'custom', message: 'rotate takes one secret name (only `/cdb rotate wireguard <tunnel>` takes two words)', input });
    return z.NEVER;
  }
  const parsed = wg ? rotateWireguardArgs.safeParse(input) : rotateArgs.safeParse(input);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, input } as Parameters<typeof ctx.addIssue>[0]);
  return z.NEVER;
});

/** What the rotation reports (crosses Redis: public facts only, never a key). Same shape as the engine's RotationResult. */
export interface WgRotationResult {
  readonly mode: 'rotate';
  readonly secret: string;
  readonly kind: 'wireguard';
  readonly status: 'running' | 'succeeded' | 'rolled-back' | 'failed';
  readonly steps: readonly { name: string; ms: number }[];
  readonly probes: readonly { service: string; probes: number; failures: number; downtimeMs: number }[];
  readonly notes: readonly string[];
  readonly resumed: boolean;
  readonly totalMs: number;
  /** Longest stretch without an answered probe through the tunnel (probe every 100 ms). */
  readonly outageMs?: number;
  readonly error?: string;
}

/** The seeds' rotate-wireguard-keys.sh announces "30-60 second tunnel outage". */
export const SEED_OUTAGE_MS = { min: 30_000, max: 60_000 } as const;
