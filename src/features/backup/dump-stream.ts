import type { Readable } from 'node:stream';

/** A dump in progress: its bytes, and what the database said about it once it ended. */
export interface DumpStream {
  readonly stdout: Readable;
  finish(): Promise<{ counts?: Record<string, number>; serverVersion?: string; redisDir?: string; redisFile?: string }>;
}

/** Lines `mark|key|value` of a script's stderr, as [key, value] (the value is what follows the last bar). */
export function parseMarked(stderr: string, mark: string): Array<[string, string]> {
  return stderr.split('\n').filter((l) => l.startsWith(`${mark}|`)).map((l) => {
    const rest = l.slice(mark.length + 1);
    const bar = rest.lastIndexOf('|');
    return [rest.slice(0, bar), rest.slice(bar + 1)];
  });
}
