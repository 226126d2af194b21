import { defineCommand } from '../src/shared/registry/define-command.ts';
import { rotateWireguardArgs, SEED_OUTAGE_MS, type WgRotationResult } from '../src/shared/contracts/wireguard.ts';
import { context, esc, header, section } from '../src/shared/render/blocks.ts';

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function verdict(r: WgRotationResult): string {
  const outage = r.outageMs !== undefined ? ` Measured tunnel outage: ${r.outageMs} ms (probe every 100 ms; the seeds' script: ${SEED_OUTAGE_MS.min / 1000}–${SEED_OUTAGE_MS.max / 1000} s).` : '';
  const resumed = r.resumed ? ' (finished by another worker after the first one stopped)' : '';
  if (r.status === 'succeeded') return `Rotated the WireGuard keys of tunnel ${r.secret} on both hosts in ${secs(r.totalMs)}${resumed}.${outage}`;
  if (r.status === 'rolled-back') return `The rotation of tunnel ${r.secret} failed (${r.error ?? 'unknown'}) and was rolled back: both hosts run their old keys${resumed}.${outage}`;
  return `MANUAL INTERVENTION NEEDED: the rotation of tunnel ${r.secret} failed and the tunnel could not be verified (${r.error ?? 'unknown'}).${outage}`;
}

export default defineCommand({
  kind: 'job',
  name: 'rotate-wireguard',
  summary: 'Rotates a WireGuard tunnel’s keys on both of its hosts (`rotate` handles the other secrets).',
  usage: 'rotate-wireguard <tunnel>',
  help: 'Generates a new private key on each host (wg genkey; private keys never leave their host), a new preshared key carried host to host over SSH only, switches both interfaces at once, and verifies a fresh handshake and traffic through the tunnel. If that fails, the old keys are restored on both sides and verified. A worker killed halfway is finished or rolled back by the next one. See runbooks/wireguard-rotation.md.',
  examples: ['rotate-wireguard web-services'],
  role: 'operator',
  approval: true,
  approvalSummary(args) {
    return [`New WireGuard keys (both private keys and the preshared key) for tunnel ${args.tunnel}, applied on both hosts at once; expected outage under 1 s. The old keys are kept until the tunnel is verified and restored automatically otherwise.`];
  },
  positionals: ['tunnel'],
  args: rotateWireguardArgs,
  job: 'rotate-wireguard',
  slack(r: WgRotationResult) {
    const icon = r.status === 'succeeded' ? ':white_check_mark:' : r.status === 'rolled-back' ? ':leftwards_arrow_with_hook:' : ':rotating_light:';
    const steps = r.steps.map((s) => `${s.name} ${secs(s.ms)}`).join(' → ');
    return {
      text: verdict(r),
      blocks: [header(`WireGuard rotation · ${r.secret}`), section(`${icon} ${esc(verdict(r))}`), ...(steps ? [context(esc(`Steps: ${steps}`))] : []), ...r.notes.map((n) => context(esc(n)))],
    };
  },
  text(r: WgRotationResult) {
    return [verdict(r), ...r.steps.map((s) => `  ${s.name.padEnd(8)} ${secs(s.ms)}`), ...r.notes].join('\n');
  },
  exitCode(r: WgRotationResult) {
    return r.status === 'succeeded' ? 0 : 1;
  },
});
