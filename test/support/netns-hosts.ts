// Two "hosts" for tests that need more than one machine: Linux network namespaces with random
// names, joined by a veth pair, each running its own sshd (generated host key, pinned in a
// known_hosts file) and a real WireGuard interface from Debian's wireguard-go + wg over /dev/net/tun.
//
//   root ns ──mgmt veth──▶ ns A (sshd on A.sshHost:22, wg iface A.iface, tunnel A.tunnelIp)
//   root ns ──mgmt veth──▶ ns B (sshd on B.sshHost:22, wg iface B.iface, tunnel B.tunnelIp)
//                          ns A ◀──link veth──▶ ns B   (WireGuard's UDP goes here)
//
// The management links let the test process (the "worker") reach each sshd; WireGuard traffic
// only crosses the A–B link. wireguard-go's control sockets live in the shared /var/run/wireguard,
// so the two interfaces get different random names. Everything is removed by stop().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { access, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, keygen, sshdConfig } from './sshd.ts';

export interface NetnsHost {
  readonly name: 'a' | 'b';
  readonly netns: string;
  /** Address of the management link inside the namespace: sshd listens here, port 22. */
  readonly sshHost: string;
  readonly sshPort: 22;
  readonly iface: string;
  readonly tunnelIp: string;
  /** Address on the A–B link (the WireGuard endpoint). */
  readonly linkIp: string;
  readonly listenPort: number;
  /** Directory holding private.key, public.key, preshared.key, peer.pub (mode 0700). */
  readonly keyDir: string;
  readonly hostPublicKey: string;
  /** Runs argv inside the namespace (no shell). */
  exec(argv: readonly string[], input?: string): Promise<{ stdout: string; stderr: string; code: number }>;
}

export interface NetnsPair {
  readonly a: NetnsHost;
  readonly b: NetnsHost;
  readonly username: 'root';
  readonly privateKey: string;
  readonly privateKeyPath: string;
  /** Both hosts' keys, one line each ("10.x.y.z ssh-ed25519 AAAA…"). */
  readonly knownHostsPath: string;
  readonly knownHosts: string;
  readonly dir: string;
  /** A ping from A to B through the tunnel succeeds within the deadline. */
  tunnelUp(deadlineMs?: number): Promise<boolean>;
  stop(): Promise<void>;
}

const REQUIRED_BINS = ['/usr/sbin/ip', '/usr/sbin/sshd', '/usr/bin/wireguard-go', '/usr/bin/wg', '/usr/bin/ping'];

function run(argv: readonly string[], input?: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = argv;
    if (!file) return reject(new Error('empty argv'));
    const child = spawn(file, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ stdout, stderr, code: code ?? -1 }));
    if (input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    }
  });
}

async function must(argv: readonly string[], input?: string): Promise<string> {
  const r = await run(argv, input);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

async function preflight(): Promise<void> {
  for (const bin of REQUIRED_BINS) {
    try {
      await access(bin, fsConstants.X_OK);
    } catch {
      throw new Error(`${bin} is missing: the two-host tests need iproute2, openssh-server, wireguard-go, wireguard-tools and iputils-ping (run \`bash scripts/ensure-services.sh\`)`);
    }
  }
  try {
    await access('/dev/net/tun', fsConstants.R_OK | fsConstants.W_OK);
  } catch {
    throw new Error('/dev/net/tun is not usable: wireguard-go needs it (load the tun module or run the container with --device /dev/net/tun)');
  }
  if (process.getuid?.() !== 0) throw new Error('the two-host tests create network namespaces and must run as root');
}

async function waitFor(what: string, deadlineMs: number, probe: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A free 10.X.Y.0/24 (no address of this machine in it) for the management and link veths. */
async function pickSubnet(): Promise<string> {
  const used = await must(['ip', '-o', '-4', 'addr', 'show']);
  const routes = await must(['ip', '-4', 'route', 'show']);
  for (let i = 0; i < 50; i++) {
    const base = `10.${randomInt(200, 250)}.${randomInt(0, 256)}`;
    if (!used.includes(` ${base}.`) && !routes.includes(`${base}.`)) return base;
  }
  throw new Error('no free 10.x.y.0/24 found for the test namespaces');
}

// A test process that dies without stop() must not leave namespaces, links or daemons behind.
const leftovers = { netns: new Set<string>(), links: new Set<string>(), procs: new Set<ChildProcess>() };
let exitHook = false;
function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const p of leftovers.procs) p.kill('SIGKILL');
    for (const l of leftovers.links) spawnSync('ip', ['link', 'del', l]);
    for (const n of leftovers.netns) spawnSync('ip', ['netns', 'del', n]);
  });
}

export async function startNetnsPair(): Promise<NetnsPair> {
  await preflight();
  const tag = randomBytes(3).toString('hex');
  const dir = await mkdtemp(join(tmpdir(), 'cdb-hosts-'));
  await chmod(dir, 0o700);
  const created = { netns: [] as string[], links: [] as string[], procs: [] as ChildProcess[] };
  installExitHook();
  const track = <K extends 'netns' | 'links' | 'procs'>(kind: K, v: (typeof created)[K][number]): void => {
    (created[kind] as unknown[]).push(v);
    (leftovers[kind] as Set<unknown>).add(v);
  };
  const cleanup = async (): Promise<void> => {
    for (const p of created.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    await Promise.all(created.procs.map((p) => (p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => p.once('exit', r)))));
    for (const p of created.procs) leftovers.procs.delete(p);
    for (const l of created.links) {
      await run(['ip', 'link', 'del', l]);
      leftovers.links.delete(l);
    }
    for (const n of created.netns) {
      await run(['ip', 'netns', 'del', n]);
      leftovers.netns.delete(n);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const base = await pickSubnet();
    const tunnelBase = `10.${randomInt(100, 199)}.${randomInt(0, 256)}`;
    const clientKey = join(dir, 'client_ed25519');
    await keygen(clientKey, 'cdb-test-client');
    await writeFile(join(dir, 'authorized_keys'), await readFile(`${clientKey}.pub`, 'utf8'), { mode: 0o600 });
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

    const spec = [
      { name: 'a' as const, mgmtRoot: `${base}.1`, mgmtNs: `${base}.2`, link: `${base}.9`, tunnel: `${tunnelBase}.1` },
      { name: 'b' as const, mgmtRoot: `${base}.5`, mgmtNs: `${base}.6`, link: `${base}.10`, tunnel: `${tunnelBase}.2` },
    ];
    const netns = spec.map((s) => `cdbt${tag}${s.name}`);
    for (const n of netns) {
      await must(['ip', 'netns', 'add', n]);
      track('netns', n);
      await must(['ip', '-n', n, 'link', 'set', 'lo', 'up']);
    }
    // A–B link.
    const [la, lb] = [`cdbl${tag}a`, `cdbl${tag}b`];
    await must(['ip', 'link', 'add', la, 'type', 'veth', 'peer', 'name', lb]);
    track('links', la);
    await must(['ip', 'link', 'set', la, 'netns', netns[0] as string]);
    await must(['ip', 'link', 'set', lb, 'netns', netns[1] as string]);
    const linkIfs = [la, lb];

    const hosts: NetnsHost[] = [];
    let knownHosts = '';
    for (const [i, s] of spec.entries()) {
      const ns = netns[i] as string;
      const linkIf = linkIfs[i] as string;
      await must(['ip', '-n', ns, 'addr', 'add', `${s.link}/29`, 'dev', linkIf]);
      await must(['ip', '-n', ns, 'link', 'set', linkIf, 'up']);
      // Management link root ↔ ns.
      const [mr, mn] = [`cdbm${tag}${s.name}`, `cdbn${tag}${s.name}`];
      await must(['ip', 'link', 'add', mr, 'type', 'veth', 'peer', 'name', mn]);
      track('links', mr);
      await must(['ip', 'link', 'set', mn, 'netns', ns]);
      await must(['ip', 'addr', 'add', `${s.mgmtRoot}/30`, 'dev', mr]);
      await must(['ip', 'link', 'set', mr, 'up']);
      await must(['ip', '-n', ns, 'addr', 'add', `${s.mgmtNs}/30`, 'dev', mn]);
      await must(['ip', '-n', ns, 'link', 'set', mn, 'up']);

      // sshd inside the namespace.
      const hostDir = join(dir, s.name);
      await mkdir(hostDir, { mode: 0o700 });
      const hostKey = join(hostDir, 'ssh_host_ed25519_key');
      await keygen(hostKey, `cdb-test-host-${s.name}`);
      const hostPublicKey = (await readFile(`${hostKey}.pub`, 'utf8')).trim();
      const cfg = join(hostDir, 'sshd_config');
      await writeFile(cfg, sshdConfig({ port: 22, listen: s.mgmtNs, dir: hostDir, authorizedKeysFile: join(dir, 'authorized_keys') }));
      await must(['/usr/sbin/sshd', '-t', '-f', cfg]);
      const sshd = spawn('ip', ['netns', 'exec', ns, '/usr/sbin/sshd', '-D', '-e', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
      let sshdLog = '';
      sshd.stderr?.setEncoding('utf8').on('data', (c: string) => (sshdLog = (sshdLog + c).slice(-20_000)));
      track('procs', sshd);
      await waitFor(`sshd in ${ns} (${sshdLog})`, 20_000, () => canConnect(s.mgmtNs, 22));
      const [kt, kb] = hostPublicKey.split(/\s+/);
      knownHosts += `${s.mgmtNs} ${kt ?? ''} ${kb ?? ''}\n`;

      // WireGuard: wireguard-go in the foreground, so this process owns it and stop() ends it.
      const iface = `wg${tag}${s.name}`;
      const wg = spawn('ip', ['netns', 'exec', ns, '/usr/bin/wireguard-go', '-f', iface], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'error' } });
      let wgLog = '';
      wg.stderr?.setEncoding('utf8').on('data', (c: string) => (wgLog = (wgLog + c).slice(-20_000)));
      track('procs', wg);
      // A hang guard, not a speed check: a loaded machine (a full suite beside other work) has taken
      // over 20 s here. If wireguard-go exits instead, say so with its status and log at once.
      let wgExit: string | undefined;
      wg.once('exit', (code, signal) => (wgExit = `exited ${code ?? signal}`));
      let wgShow = '';
      await waitFor(`wireguard-go ${iface} in ${ns}`, 90_000, async () => {
        if (wgExit) throw new Error(`wireguard-go ${iface} in ${ns} ${wgExit}: ${wgLog || '(no output)'}`);
        const r = await run(['ip', 'netns', 'exec', ns, 'wg', 'show', iface, 'public-key']);
        wgShow = r.stderr.trim();
        return r.code === 0;
      }).catch((err: Error) => {
        throw new Error(`${err.message}; last \`wg show\`: ${wgShow || '(nothing)'}; wireguard-go log: ${wgLog || '(nothing)'}`);
      });
      await must(['ip', '-n', ns, 'addr', 'add', `${s.tunnel}/24`, 'dev', iface]);
      await must(['ip', '-n', ns, 'link', 'set', iface, 'up']);

      const keyDir = join(hostDir, 'wg');
      await mkdir(keyDir, { mode: 0o700 });
      hosts.push({
        name: s.name,
        netns: ns,
        sshHost: s.mgmtNs,
        sshPort: 22,
        iface,
        tunnelIp: s.tunnel,
        linkIp: s.link,
        listenPort: 51820,
        keyDir,
        hostPublicKey,
        exec: (argv, input) => run(['ip', 'netns', 'exec', ns, ...argv], input),
      });
    }
    const [a, b] = hosts as [NetnsHost, NetnsHost];

    // Initial keys, as an operator would have set them up: on each host, in its key directory.
    const psk = (await must(['wg', 'genpsk'])).trim();
    for (const h of [a, b]) {
      const priv = (await must(['wg', 'genkey'])).trim();
      await writeFile(join(h.keyDir, 'private.key'), `${priv}\n`, { mode: 0o600 });
      await writeFile(join(h.keyDir, 'preshared.key'), `${psk}\n`, { mode: 0o600 });
      await writeFile(join(h.keyDir, 'public.key'), await must(['wg', 'pubkey'], `${priv}\n`), { mode: 0o644 });
    }
    for (const [h, peer] of [[a, b], [b, a]] as const) {
      const peerPub = (await readFile(join(peer.keyDir, 'public.key'), 'utf8')).trim();
      await writeFile(join(h.keyDir, 'peer.pub'), `${peerPub}\n`);
      await must(['ip', 'netns', 'exec', h.netns, 'wg', 'set', h.iface, 'listen-port', String(h.listenPort), 'private-key', join(h.keyDir, 'private.key'),
        'peer', peerPub, 'preshared-key', join(h.keyDir, 'preshared.key'), 'allowed-ips', `${peer.tunnelIp}/32`, 'endpoint', `${peer.linkIp}:${peer.listenPort}`]);
    }
    const knownHostsPath = join(dir, 'known_hosts');
    await writeFile(knownHostsPath, knownHosts);

    const tunnelUp = async (deadlineMs = 20_000): Promise<boolean> => {
      const until = Date.now() + deadlineMs;
      while (Date.now() < until) {
        if ((await a.exec(['ping', '-n', '-c', '1', '-W', '1', b.tunnelIp])).code === 0) return true;
      }
      return false;
    };
    if (!(await tunnelUp())) throw new Error(`the WireGuard tunnel ${a.iface} ↔ ${b.iface} did not come up`);

    let stopped = false;
    return {
      a,
      b,
      username: 'root',
      privateKey: await readFile(clientKey, 'utf8'),
      privateKeyPath: clientKey,
      knownHostsPath,
      knownHosts,
      dir,
      tunnelUp,
      async stop() {
        if (stopped) return;
        stopped = true;
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw new Error(`could not set up the two test hosts (network namespaces + sshd + wireguard-go): ${(err as Error).message}`, { cause: err });
  }
}
