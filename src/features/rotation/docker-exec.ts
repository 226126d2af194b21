import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs argv in a container (no shell unless argv names one). Secrets go in on stdin, never in argv
 * or Env, which `docker inspect` of the exec would show.
 */
export async function execIn(docker: Docker, containerId: string, argv: readonly string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: [...argv], AttachStdout: true, AttachStderr: true, AttachStdin: opts.stdin !== undefined });
  const stream = await exec.start({ hijack: true, stdin: opts.stdin !== undefined });
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: Buffer[] = [];
  const errChunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  err.on('data', (c: Buffer) => errChunks.push(c));
  docker.modem.demuxStream(stream, out, err);
  if (opts.stdin !== undefined) {
    stream.write(opts.stdin);
    // Half-close so the program sees EOF on stdin while we keep reading its output.
    (stream as unknown as { end(): void }).end();
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`exec ${argv[0] ?? ''} timed out`));
    }, opts.timeoutMs ?? 30_000);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', (e: Error) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  let code = -1;
  for (let i = 0; i < 50; i++) {
    const info = await exec.inspect();
    if (!info.Running) {
      code = info.ExitCode ?? -1;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { code, stdout: Buffer.concat(chunks).toString('utf8'), stderr: Buffer.concat(errChunks).toString('utf8') };
}

/** Running containers of one compose service, oldest first. */
export async function serviceContainers(docker: Docker, project: string, service: string): Promise<Docker.ContainerInfo[]> {
  const list = await docker.listContainers({ filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`], status: ['running'] } });
  return list.sort((a, b) => a.Created - b.Created || a.Id.localeCompare(b.Id));
}
