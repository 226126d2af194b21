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
  const timeoutMs = opts.timeoutMs ?? 30_000;
  // One deadline for the whole exec: creating and attaching are Engine calls that can stall under
  // load too, and a caller (a step, the downtime probe) must never wait on them forever.
  let timer: NodeJS.Timeout | undefined;
  let stream: NodeJS.ReadWriteStream | undefined;
  let expired = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      (stream as unknown as { destroy?(): void } | undefined)?.destroy?.();
      reject(new Error(`exec ${argv[0] ?? ''} timed out`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([run(), deadline]);
  } finally {
    clearTimeout(timer);
  }

  async function run(): Promise<ExecResult> {
    const exec = await docker.getContainer(containerId).exec({ Cmd: [...argv], AttachStdout: true, AttachStderr: true, AttachStdin: opts.stdin !== undefined });
    const s = await exec.start({ hijack: true, stdin: opts.stdin !== undefined });
    stream = s;
    if (expired) {
      (s as unknown as { destroy(): void }).destroy();
      throw new Error(`exec ${argv[0] ?? ''} timed out`);
    }
    const out = new PassThrough();
    const err = new PassThrough();
    const chunks: Buffer[] = [];
    const errChunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    err.on('data', (c: Buffer) => errChunks.push(c));
    docker.modem.demuxStream(s, out, err);
    if (opts.stdin !== undefined) {
      s.write(opts.stdin);
      // Half-close so the program sees EOF on stdin while we keep reading its output.
      (s as unknown as { end(): void }).end();
    }
    await new Promise<void>((resolve, reject) => {
      s.on('end', resolve);
      s.on('close', resolve);
      s.on('error', reject);
    });
    // The output ended; the Engine records the exit code a moment later, which on a loaded host can
    // take longer than a second: wait for it (within the deadline) instead of reporting -1.
    for (let delay = 10; !expired; delay = Math.min(delay * 2, 250)) {
      const info = await exec.inspect();
      if (!info.Running) return { code: info.ExitCode ?? -1, stdout: Buffer.concat(chunks).toString('utf8'), stderr: Buffer.concat(errChunks).toString('utf8') };
      await new Promise((r) => setTimeout(r, delay));
    }
    throw new Error(`exec ${argv[0] ?? ''} timed out`);
  }
}

/** Running containers of one compose service, oldest first. */
export async function serviceContainers(docker: Docker, project: string, service: string): Promise<Docker.ContainerInfo[]> {
  const list = await docker.listContainers({ filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`], status: ['running'] } });
  return list.sort((a, b) => a.Created - b.Created || a.Id.localeCompare(b.Id));
}
