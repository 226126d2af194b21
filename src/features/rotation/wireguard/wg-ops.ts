import { OpsError } from '../../../shared/errors.ts';
import type { CommandHost, ExecResult } from './host.ts';

/**
 * What the worker does on one WireGuard host. Private and preshared keys stay in files on the host:
 * `wg genkey` writes straight into the key directory, comparisons with the running interface happen
 * in the host's shell, and only public keys come back. The shell scripts are constants; names and
 * paths arrive as positional parameters ($1, $2…), never inside the script text.
 */

const WG_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

export function assertKey(key: string, what: string): string {
  if (!WG_KEY.test(key)) throw new OpsError('WG_ROTATION_FAILED', `The host returned something that is not a WireGuard public key for ${what}.`);
  return key;
}

export interface PeerConfig {
  readonly allowedIps: readonly string[];
  readonly endpoint?: string;
  readonly keepalive?: number;
}

export interface PeerState extends PeerConfig {
  readonly publicKey: string;
  /** Unix seconds of the latest handshake, 0 for none. */
  readonly handshake: number;
}

export interface InterfaceState {
  readonly publicKey: string;
  readonly peers: readonly PeerState[];
  /** `private.key` in the key directory is the key the interface runs with. */
  readonly keyFileMatches: boolean;
  /** `preshared.key` is the preshared key of the (single) peer. */
  readonly pskFileMatches: boolean;
  /** `private.key`'s modification time (unix seconds), the key's age; undefined when missing. */
  readonly keyFileMtime?: number;
  /** The host's clock (unix seconds): handshake times are compared against it. */
  readonly now: number;
}

const INSPECT = `
I="$1"; D="$2"
pub=$(wg show "$I" public-key) || exit 3
echo "pub $pub"
wg show "$I" endpoints | sed 's/^/ep /'
wg show "$I" allowed-ips | sed 's/^/ip /'
wg show "$I" persistent-keepalive | sed 's/^/ka /'
wg show "$I" latest-handshakes | sed 's/^/hs /'
if [ -r "$D/private.key" ] && [ "$(wg pubkey < "$D/private.key")" = "$pub" ]; then echo "keyfile ok"; else echo "keyfile differs"; fi
if [ -r "$D/preshared.key" ] && [ "$(wg show "$I" preshared-keys | cut -f2)" = "$(cat "$D/preshared.key")" ]; then echo "pskfile ok"; else echo "pskfile differs"; fi
[ -e "$D/private.key" ] && echo "mtime $(stat -c %Y "$D/private.key")"
echo "now $(date +%s)"
`;

const GENKEY = `set -e; umask 077; wg genkey > "$1/private.key.new"; wg pubkey < "$1/private.key.new"`;
const GENPSK = `set -e; umask 077; wg genpsk > "$1/preshared.key.new"; cat "$1/preshared.key.new"`;
const PUTPSK = `set -e; umask 077; cat > "$1/preshared.key.new"`;
// In place (same inode): a container that bind-mounts the single file sees the new key when it restarts.
const COMMIT = `set -e; umask 077; D="$1"
for f in private.key preshared.key; do
  if [ -f "$D/$f.new" ]; then cat "$D/$f.new" > "$D/$f"; rm -f "$D/$f.new"; fi
done
printf '%s\\n' "$2" > "$D/public.key"
printf '%s\\n' "$3" > "$D/peer.pub"`;
const CLEANUP = `rm -f "$1/private.key.new" "$1/preshared.key.new"`;
const PENDING = `[ -f "$1/private.key.new" ] && wg pubkey < "$1/private.key.new"; true`;

function sh(script: string, ...args: string[]): string[] {
  return ['sh', '-c', script, 'sh', ...args];
}

function must(r: ExecResult, what: string, where: string): string {
  if (r.code !== 0) {
    // stderr of wg/sh never holds key material (we never pass keys as arguments); still keep it short.
    throw new OpsError('WG_ROTATION_FAILED', `${what} failed on ${where} (exit ${r.code}: ${r.stderr.trim().slice(0, 200) || 'no output'}).`);
  }
  return r.stdout;
}

export async function inspect(host: CommandHost, iface: string, keyDir: string): Promise<InterfaceState> {
  const out = must(await host.exec(sh(INSPECT, iface, keyDir)), `Reading WireGuard interface ${iface}`, host.where);
  let publicKey = '';
  const peers = new Map<string, { allowedIps: string[]; endpoint?: string; keepalive?: number; handshake: number }>();
  const peer = (k: string) => {
    let p = peers.get(k);
    if (!p) peers.set(k, (p = { allowedIps: [], handshake: 0 }));
    return p;
  };
  let keyFileMatches = false;
  let pskFileMatches = false;
  let keyFileMtime: number | undefined;
  let now = Math.floor(Date.now() / 1000);
  for (const line of out.split('\n')) {
    const [tag, a = '', b = ''] = line.split(/[ \t]+/);
    if (tag === 'pub') publicKey = assertKey(a, iface);
    else if (tag === 'ep' && a) { if (b && b !== '(none)') peer(a).endpoint = b; }
    else if (tag === 'ip' && a) peer(a).allowedIps = b && b !== '(none)' ? line.split('\t')[1]?.split(' ').filter(Boolean) ?? [] : [];
    else if (tag === 'ka' && a) { if (b && b !== 'off') peer(a).keepalive = Number(b); }
    else if (tag === 'hs' && a) peer(a).handshake = Number(b) || 0;
    else if (tag === 'keyfile') keyFileMatches = a === 'ok';
    else if (tag === 'pskfile') pskFileMatches = a === 'ok';
    else if (tag === 'mtime') keyFileMtime = Number(a);
    else if (tag === 'now') now = Number(a);
  }
  return {
    publicKey,
    peers: [...peers].map(([k, p]) => ({ publicKey: assertKey(k, `a peer of ${iface}`), ...p })),
    keyFileMatches,
    pskFileMatches,
    ...(keyFileMtime !== undefined ? { keyFileMtime } : {}),
    now,
  };
}

/** A fresh private key written to `<keyDir>/private.key.new` on the host; returns its public key. */
export async function generateKey(host: CommandHost, keyDir: string): Promise<string> {
  return assertKey(must(await host.exec(sh(GENKEY, keyDir)), 'wg genkey', host.where).trim(), host.where);
}

/** The public key of a pending `private.key.new`, if there is one. */
export async function pendingKey(host: CommandHost, keyDir: string): Promise<string | undefined> {
  const out = must(await host.exec(sh(PENDING, keyDir)), 'Reading the pending key', host.where).trim();
  return out ? assertKey(out, host.where) : undefined;
}

/**
 * A new preshared key, made on `from` and carried to `to` over the two SSH connections only:
 * it sits in this process's memory for the length of two calls and is never logged or stored.
 */
export async function movePresharedKey(from: CommandHost, to: CommandHost, fromDir: string, toDir: string): Promise<void> {
  let psk = must(await from.exec(sh(GENPSK, fromDir)), 'wg genpsk', from.where).trim();
  try {
    if (!WG_KEY.test(psk)) throw new OpsError('WG_ROTATION_FAILED', `wg genpsk on ${from.where} returned something that is not a key.`);
    must(await to.exec(sh(PUTPSK, toDir), `${psk}\n`), 'Writing the new preshared key', to.where);
  } finally {
    psk = '';
  }
}

export interface SetKeys {
  readonly iface: string;
  readonly keyDir: string;
  /** `new`: the pending files (*.new); `current`: private.key / preshared.key. */
  readonly files: 'new' | 'current';
  readonly peer: string;
  readonly config: PeerConfig;
  /** A peer key to drop in the same call (the other generation's). */
  readonly remove?: string;
}

/** One `wg set` call: own key, the peer under its (new or old) key, the other generation removed. */
export async function setKeys(host: CommandHost, s: SetKeys): Promise<void> {
  const suffix = s.files === 'new' ? '.new' : '';
  const argv = ['wg', 'set', s.iface, 'private-key', `${s.keyDir}/private.key${suffix}`, 'peer', s.peer, 'preshared-key', `${s.keyDir}/preshared.key${suffix}`, 'allowed-ips', s.config.allowedIps.join(',')];
  if (s.config.endpoint) argv.push('endpoint', s.config.endpoint);
  if (s.config.keepalive) argv.push('persistent-keepalive', String(s.config.keepalive));
  if (s.remove && s.remove !== s.peer) argv.push('peer', s.remove, 'remove');
  must(await host.exec(argv), `wg set ${s.iface}`, host.where);
}

export async function commitFiles(host: CommandHost, keyDir: string, ownPub: string, peerPub: string): Promise<void> {
  must(await host.exec(sh(COMMIT, keyDir, ownPub, peerPub)), 'Writing the new keys into the key directory', host.where);
}

export async function removePending(host: CommandHost, keyDir: string): Promise<void> {
  must(await host.exec(sh(CLEANUP, keyDir)), 'Removing the pending keys', host.where);
}
