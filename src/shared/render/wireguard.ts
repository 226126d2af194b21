import { SEED_OUTAGE_MS, type WgRotationResult } from '../contracts/wireguard.ts';
import { context, esc, header, section } from './blocks.ts';
import type { SlackMessage } from '../registry/define-command.ts';

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** One sentence on how a tunnel's rotation ended, with the measured outage against the seeds' script. */
export function wgVerdict(r: WgRotationResult): string {
  const outage = r.outageMs !== undefined ? ` Measured tunnel outage: ${r.outageMs} ms (probe every 100 ms; the seeds' script: ${SEED_OUTAGE_MS.min / 1000}–${SEED_OUTAGE_MS.max / 1000} s).` : '';
  const resumed = r.resumed ? ' (finished by another worker after the first one stopped)' : '';
  if (r.status === 'succeeded') return `Rotated the WireGuard keys of tunnel ${r.secret} on both hosts in ${secs(r.totalMs)}${resumed}.${outage}`;
  if (r.status === 'rolled-back') return `The rotation of tunnel ${r.secret} failed (${r.error ?? 'unknown'}) and was rolled back: both hosts run their old keys${resumed}.${outage}`;
  return `MANUAL INTERVENTION NEEDED: the rotation of tunnel ${r.secret} failed and the tunnel could not be verified (${r.error ?? 'unknown'}).${outage}`;
}

/** `/cdb rotate wireguard <tunnel>` in Slack. */
export function wgSlack(r: WgRotationResult): SlackMessage {
  const icon = r.status === 'succeeded' ? ':white_check_mark:' : r.status === 'rolled-back' ? ':leftwards_arrow_with_hook:' : ':rotating_light:';
  const steps = r.steps.map((s) => `${s.name} ${secs(s.ms)}`).join(' → ');
  return {
    text: wgVerdict(r),
    blocks: [header(`WireGuard rotation · ${r.secret}`), section(`${icon} ${esc(wgVerdict(r))}`), ...(steps ? [context(esc(`Steps: ${steps}`))] : []), ...r.notes.map((n) => context(esc(n)))],
  };
}

/** `cdb rotate wireguard <tunnel>` in a terminal. */
export function wgText(r: WgRotationResult): string {
  return [wgVerdict(r), ...r.steps.map((s) => `  ${s.name.padEnd(8)} ${secs(s.ms)}`), ...r.notes].join('\n');
}

/** What the approver reads: both private keys and the preshared key change, old keys kept until verified. */
export function wgApprovalSummary(tunnel: string): string {
  return `New WireGuard keys (both private keys and the preshared key) for tunnel ${tunnel}, applied on both hosts at once; expected outage under 1 s. The old keys are kept until the tunnel is verified and restored automatically otherwise.`;
}
