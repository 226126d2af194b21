import type { CommandHost } from './host.ts';

export const PROBE_INTERVAL_MS = 100;
/** An answer slower than this was held up by the tunnel (WireGuard queues packets while it handshakes). */
export const LATE_MS = 1000;

export interface ProbeReport {
  readonly sent: number;
  readonly received: number;
  /** The longest run of unanswered (or late) probes between two answered ones, × the interval. */
  readonly outageMs: number;
}

/**
 * Pings the far side's tunnel address from one end every 100 ms for as long as the rotation runs
 * (`ping -O` reports each probe without an answer). The outage is read from sequence numbers, not
 * from clocks: the longest gap between two probes answered within a second.
 */
export class TunnelProbe {
  /** Probes answered within LATE_MS; a late answer (queued behind a handshake) counts as lost. */
  private readonly seen = new Set<number>();
  private highest = -1;
  private lastReplyAt = 0;
  private readonly run: { done: Promise<number>; stop(): void };

  constructor(host: CommandHost, address: string, maxSeconds: number) {
    this.run = host.stream(['ping', '-n', '-O', '-i', String(PROBE_INTERVAL_MS / 1000), '-W', '1', '-w', String(Math.ceil(maxSeconds)), address], (line) => this.line(line));
  }

  private line(line: string): void {
    const seq = /icmp_seq=(\d+)/.exec(line);
    if (!seq) return;
    const n = Number(seq[1]);
    this.highest = Math.max(this.highest, n);
    if (/bytes from/.test(line)) {
      const rtt = Number(/time=([\d.]+) ms/.exec(line)?.[1] ?? 0);
      if (rtt <= LATE_MS) this.seen.add(n);
      this.lastReplyAt = Date.now();
    }
  }

  /** An answer arrived after `since` (ms epoch, this process's clock). */
  answeredSince(since: number): boolean {
    return this.lastReplyAt > since;
  }

  report(): ProbeReport {
    const got = [...this.seen].sort((x, y) => x - y);
    let worst = 0;
    for (let i = 1; i < got.length; i++) worst = Math.max(worst, (got[i] as number) - (got[i - 1] as number) - 1);
    return { sent: this.highest + 1, received: got.length, outageMs: worst * PROBE_INTERVAL_MS };
  }

  async stop(): Promise<ProbeReport> {
    this.run.stop();
    await Promise.race([this.run.done, new Promise((r) => setTimeout(r, 2000))]);
    return this.report();
  }
}
