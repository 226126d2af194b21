import { z } from 'zod';

/**
 * `wireguard.tunnels[]`: point-to-point tunnels whose keys `/cdb rotate wireguard <tunnel>` rotates
 * (docs/wireguard.md). Every value here ends up in a command run on a host, so each one is held to
 * a strict pattern; they are passed as separate arguments, never pasted into a shell line.
 */
export const wgInterfaceName = z.string().regex(/^[a-zA-Z0-9_=+.-]{1,15}$/, 'a network interface name such as wg0');
export const absolutePath = z.string().regex(/^\/[A-Za-z0-9._/-]{1,250}$/, 'an absolute path (letters, digits, . _ - /)').refine((p) => !p.split('/').includes('..'), 'a path without ..');
const ipv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/, 'an IPv4 address such as 10.100.0.11');
export const tunnelName = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'a tunnel name such as web-services');
/**
 * `ssh://user@host[:port]` (host key pinned through ssh.knownHostsFile), `local` (the worker's own
 * host), or the name of a target (reached the way its `docker` says: ssh:// over SSH, unix:// locally).
 */
export const hostReach = z.union([
  z.literal('local'),
  z.string().regex(/^ssh:\/\/[a-z_][a-z0-9_-]*@[\w.-]+(:\d{1,5})?$/, 'ssh://user@host[:port], local or a target name'),
  z.string().regex(/^[a-z][a-z0-9-]{0,23}$/, 'ssh://user@host[:port], local or a target name'),
]);

export const wgEndpointSchema = z
  .object({
    /** A short label for messages (e.g. the host's role). */
    name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'a label such as web'),
    host: hostReach,
    interface: wgInterfaceName,
    /** Holds private.key, public.key, preshared.key and peer.pub (what the interface is set up from). */
    keyDir: absolutePath,
    /** This side's address inside the tunnel (the other side probes it). */
    tunnelAddress: ipv4,
  })
  .strict();
export type WgEndpoint = z.infer<typeof wgEndpointSchema>;

export const wgTunnelSchema = z
  .object({
    name: tunnelName,
    endpoints: z.tuple([wgEndpointSchema, wgEndpointSchema]),
    /** How long the new keys may take to show a handshake and carry a probe. */
    verifySeconds: z.number().min(2).max(300).default(20),
    scheduleDays: z.number().int().min(1).max(3650).default(365),
  })
  .strict()
  .refine((t) => t.endpoints[0].name !== t.endpoints[1].name, 'the two endpoints need different names');
export type WgTunnel = z.infer<typeof wgTunnelSchema>;

export const wireguardSection = z
  .object({ tunnels: z.array(wgTunnelSchema).max(50).default([]) })
  .strict()
  .refine((w) => new Set(w.tunnels.map((t) => t.name)).size === w.tunnels.length, 'tunnel names must be unique')
  .default({ tunnels: [] });
