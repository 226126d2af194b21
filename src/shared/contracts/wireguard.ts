import { z } from 'zod';
import { tunnelName } from '../config/wireguard-schema.ts';

/** `/cdb rotate-wireguard <tunnel>`: the tunnel's name from `wireguard.tunnels` (the kind defaults to wireguard). */
export const rotateWireguardArgs = z.object({ kind: z.literal('wireguard', { error: 'only `wireguard` can be rotated by this command' }).default('wireguard'), tunnel: tunnelName }).strict();
export type RotateWireguardArgs = z.infer<typeof rotateWireguardArgs>;

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
