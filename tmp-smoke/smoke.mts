import { startNetnsPair } from '/work/wt/hosts/test/support/netns-hosts.ts';
const t = Date.now();
const p = await startNetnsPair();
console.log('up in', Date.now() - t, p.a.netns, p.b.netns, p.knownHosts);
console.log((await p.a.exec(['wg', 'show', p.a.iface, 'latest-handshakes'])).stdout);
await p.stop();
console.log('stopped');
