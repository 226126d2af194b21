import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';

export const HELPER_LABEL = 'cdb.backup.helper';
export const MOUNT = '/cdbvol';

/**
 * A short-lived container that mounts one volume (read-only to back it up), from an image the stack
 * already has (nothing can be pulled). It has no network. The Engine's archive endpoint reads and
 * writes its files, so the image needs no tar of its own; only clearing a volume runs a command.
 */
export async function withVolumeHelper<T>(docker: Docker, o: { volume: string; image: string; project: string; readOnly: boolean; cmd?: string[] }, fn: (c: Docker.Container) => Promise<T>): Promise<T> {
  const c = await docker.createContainer({
    name: `${o.project}-cdb-helper-${randomBytes(4).toString('hex')}`,
    Image: o.image,
    Entrypoint: o.cmd ? [o.cmd[0] as string] : ['true'],
    Cmd: o.cmd ? o.cmd.slice(1) : [],
    Labels: { [HELPER_LABEL]: o.project },
    NetworkDisabled: true,
    HostConfig: { Binds: [`${o.volume}:${MOUNT}:${o.readOnly ? 'ro' : 'rw'}`], NetworkMode: 'none', AutoRemove: false },
  });
  try {
    return await fn(c);
  } finally {
    await c.remove({ force: true, v: false }).catch(() => undefined);
  }
}

/** The volume's contents as a tar stream (entries named `cdbvol/…`). */
export async function volumeTar(c: Docker.Container): Promise<Readable> {
  return (await c.getArchive({ path: MOUNT })) as unknown as Readable;
}

/** Empties a volume (a helper that runs `find … -delete` from the stack's image). */
export async function clearVolume(docker: Docker, o: { volume: string; image: string; project: string }): Promise<void> {
  await withVolumeHelper(docker, { ...o, readOnly: false, cmd: ['find', MOUNT, '-mindepth', '1', '-delete'] }, async (c) => {
    await c.start();
    const r = (await c.wait()) as { StatusCode: number };
    if (r.StatusCode !== 0) throw new Error(`clearing volume ${o.volume} failed (exit ${r.StatusCode}); the image ${o.image.slice(0, 40)} needs find`);
  });
}

/** Extracts a tar stream (entries `cdbvol/…`) into the volume. */
export async function putVolumeTar(docker: Docker, o: { volume: string; image: string; project: string }, tar: Readable): Promise<void> {
  await withVolumeHelper(docker, { ...o, readOnly: false }, async (c) => {
    await c.putArchive(tar as unknown as NodeJS.ReadableStream, { path: '/' });
  });
}

export interface TarEntry {
  /** Path inside the archive (relative; extracted under the putArchive path). */
  readonly name: string;
  readonly type: 'file' | 'dir';
  readonly size: number;
  readonly mode: number;
  readonly uid?: number;
  readonly gid?: number;
  /** The file's bytes: opened only when the archive reaches it; exactly `size` of them. */
  readonly body?: () => Promise<AsyncIterable<Buffer> | Iterable<Buffer>>;
}

function tarHeader(e: TarEntry): Buffer {
  const h = Buffer.alloc(512);
  const oct = (n: number, width: number) => `${n.toString(8).padStart(width - 1, '0')}\0`;
  h.write(e.name, 0, 100, 'utf8');
  h.write(oct(e.mode, 8), 100);
  h.write(oct(e.uid ?? 0, 8), 108);
  h.write(oct(e.gid ?? 0, 8), 116);
  h.write(oct(e.type === 'dir' ? 0 : e.size, 12), 124);
  h.write(oct(Math.floor(Date.now() / 1000), 12), 136);
  h.write('        ', 148);
  h.write(e.type === 'dir' ? '5' : '0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** A ustar archive of files whose sizes are known, streamed: how files go into a stopped container. */
export async function* tarFiles(entries: readonly TarEntry[]): AsyncGenerator<Buffer> {
  for (const e of entries) {
    if (e.name.length > 100 || e.name.split('/').includes('..')) throw new Error(`${e.name}: not a name this archive can hold`);
    yield tarHeader(e);
    if (e.type === 'dir') continue;
    let n = 0;
    for await (const chunk of e.body ? await e.body() : []) {
      n += chunk.length;
      if (n > e.size) throw new Error(`${e.name}: more bytes than the manifest says (${e.size})`);
      yield chunk;
    }
    if (n !== e.size) throw new Error(`${e.name}: ${n} bytes, the manifest says ${e.size}`);
    const pad = (512 - (e.size % 512)) % 512;
    if (pad) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(1024);
}

/** A one-file tar (ustar) around a stream whose size is known. */
export function singleFileTar(name: string, size: number, body: AsyncIterable<Buffer> | Iterable<Buffer>): AsyncGenerator<Buffer> {
  return tarFiles([{ name, type: 'file', size, mode: 0o644, body: async () => body }]);
}
