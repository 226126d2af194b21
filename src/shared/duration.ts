import { z } from 'zod';

/**
 * The one duration grammar of cdb, as the config, `--since` and LogQL ranges write it: a whole
 * number from 1 and one unit, s, m, h or d (30s, 15m, 2h, 7d). Loki reads the same text.
 */
export const DURATION = /^[1-9]\d{0,5}[smhd]$/;

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  return Number(text.slice(0, -1)) * UNIT_MS[text.slice(-1) as keyof typeof UNIT_MS];
}

/** Milliseconds of a duration validated before (config, job arguments); anything else is a bug. */
export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`not a duration: ${text}`);
  return ms;
}

/** A zod string in the duration grammar, optionally at most `max` long. */
export function durationSchema(hint: string, max?: { readonly ms: number; readonly hint: string }) {
  const base = z.string().regex(DURATION, hint);
  return max ? base.refine((v) => (parseDuration(v) ?? Infinity) <= max.ms, max.hint) : base;
}
