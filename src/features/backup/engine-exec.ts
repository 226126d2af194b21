import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import type Docker from 'dockerode';
import { dockerCall } from '../../host/docker-errors.ts';

const STDERR_KEEP = 64 * 1024;

/**
 * Splits the Engine API's multiplexed exec stream (8-byte frame headers) into stdout, which it
 * passes on with back-pressure, and stderr, of which it keeps the last 64 KiB. dockerode's own
 * demuxStream writes without waiting, so a slow consumer would let memory grow with the dump.
 */
export class ExecDemux extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private frameLeft = 0;
  private frameType = 1;
  private stderrText = '';

  get stderr(): string {
    return this.stderrText;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (buf.length) {
      if (this.frameLeft === 0) {
        if (buf.length < 8) {
          this.pending = Buffer.from(buf);
          break;
        }
        this.frameType = buf[0] ?? 1;
        this.frameLeft = buf.readUInt32BE(4);
        buf = buf.subarray(8);
        continue;
      }
      const n = Math.min(this.frameLeft, buf.length);
      const part = buf.subarray(0, n);
      if (this.frameType === 2) this.stderrText = (this.stderrText + part.toString('utf8')).slice(-STDERR_KEEP);
      else this.push(part);
      this.frameLeft -= n;
      buf = buf.subarray(n);
    }
    done();
  }
}

export interface ExecHandle {
  /** The command's stdout, with back-pressure all the way to the container. */
  readonly stdout: Readable;
  /** Resolves once the command exited (after stdout ended): its exit code and the tail of stderr. */
  readonly done: Promise<{ exitCode: number; stderr: string }>;
}

export interface ExecOptions {
  readonly env?: readonly string[];
  /** Piped to the command's stdin, which is closed at its end (pg_restore reads to EOF). */
  readonly stdin?: Readable;
  readonly user?: string;
}

/** Runs `cmd` (an argument array, never a shell string built from input) in a container through the Engine API. */
export async function execStream(docker: Docker, containerId: string, cmd: readonly string[], opts: ExecOptions = {}): Promise<ExecHandle> {
  const container = docker.getContainer(containerId);
  const exec = await dockerCall('start a command in a container', () =>
    container.exec({ Cmd: [...cmd], AttachStdout: true, AttachStderr: true, AttachStdin: Boolean(opts.stdin), Env: opts.env ? [...opts.env] : undefined, User: opts.user }),
  );
  const socket = (await exec.start({ hijack: true, stdin: Boolean(opts.stdin) })) as unknown as NodeJS.ReadWriteStream & { end(): void; destroy(err?: Error): void };
  const demux = new ExecDemux({ highWaterMark: 1 << 20 });
  const stdout = new PassThrough({ highWaterMark: 1 << 20 });
  let inputError: Error | undefined;
  if (opts.stdin) {
    // pipe() ends the socket's write side at EOF: the Engine then closes the command's stdin.
    opts.stdin.on('error', (err: Error) => {
      inputError = err;
      socket.destroy(err);
    });
    opts.stdin.pipe(socket);
  }
  (socket as unknown as Readable).pipe(demux).pipe(stdout);
  (socket as unknown as Readable).on('error', (err: Error) => demux.destroy(err));
  demux.on('error', (err: Error) => stdout.destroy(err));
  const done = new Promise<{ exitCode: number; stderr: string }>((resolve, reject) => {
    demux.once('end', () => {
      void (async () => {
        try {
          if (inputError) throw inputError;
          // The stream can end a moment before the Engine records the exit code.
          for (let i = 0; ; i++) {
            const info = await exec.inspect();
            if (!info.Running || i > 200) return resolve({ exitCode: info.ExitCode ?? -1, stderr: demux.stderr });
            await new Promise((r) => setTimeout(r, 50));
          }
        } catch (err) {
          reject(err as Error);
        }
      })();
    });
    demux.once('error', reject);
  });
  done.catch(() => undefined);
  return { stdout, done };
}

/** Runs a short command and returns its stdout as text; fails with its stderr when it exits non-zero. */
export async function execText(docker: Docker, containerId: string, cmd: readonly string[], opts: ExecOptions & { what: string; maxBytes?: number } = { what: 'run a command' }): Promise<string> {
  const h = await execStream(docker, containerId, cmd, opts);
  const max = opts.maxBytes ?? 4 * 1024 * 1024;
  let out = '';
  for await (const chunk of h.stdout) {
    out += (chunk as Buffer).toString('utf8');
    if (out.length > max) throw new Error(`${opts.what}: more than ${max} bytes of output`);
  }
  const { exitCode, stderr } = await h.done;
  if (exitCode !== 0) throw new Error(`${opts.what} failed (exit ${exitCode}): ${stderr.trim().slice(-500)}`);
  return out;
}
