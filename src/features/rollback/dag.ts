/**
 * Groups nodes so each group depends only on earlier groups (Kahn's algorithm). Edges to nodes
 * outside the set are ignored; a cycle (compose refuses those, but labels could disagree) becomes
 * one last group instead of a deadlock.
 */
export function dependencyWaves(nodes: readonly string[], deps: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const inSet = new Set(nodes);
  const pending = new Map(nodes.map((n) => [n, new Set([...(deps.get(n) ?? [])].filter((d) => inSet.has(d) && d !== n))]));
  const waves: string[][] = [];
  while (pending.size) {
    const ready = [...pending.entries()].filter(([, ds]) => ds.size === 0).map(([n]) => n).sort();
    const wave = ready.length ? ready : [...pending.keys()].sort();
    waves.push(wave);
    for (const n of wave) pending.delete(n);
    for (const ds of pending.values()) for (const n of wave) ds.delete(n);
  }
  return waves;
}

export type NodeOutcome = 'ok' | 'failed' | 'not-started';

/**
 * Runs `fn` for every node as soon as the nodes it depends on (in earlier waves) succeeded, at most
 * `limit` at a time. After a failure nothing new starts; what runs is allowed to finish.
 * With `bestEffort` (undoing), a node waits for its dependencies to finish, however they finished.
 */
export async function runInOrder(
  waves: readonly (readonly string[])[],
  deps: ReadonlyMap<string, ReadonlySet<string>>,
  limit: number,
  fn: (node: string) => Promise<boolean>,
  bestEffort = false,
): Promise<Map<string, NodeOutcome>> {
  const waveOf = new Map<string, number>();
  waves.forEach((w, i) => w.forEach((n) => waveOf.set(n, i)));
  const needs = new Map<string, string[]>();
  for (const [n, i] of waveOf) needs.set(n, [...(deps.get(n) ?? [])].filter((d) => (waveOf.get(d) ?? Infinity) < i));

  const outcome = new Map<string, NodeOutcome>();
  const queued = waves.flat();
  let running = 0;
  let failed = false;
  return new Promise((resolve) => {
    const pump = (): void => {
      for (const node of [...queued]) {
        if ((failed && !bestEffort) || running >= limit) break;
        const ds = needs.get(node) ?? [];
        if (!ds.every((d) => (bestEffort ? outcome.has(d) : outcome.get(d) === 'ok'))) continue;
        queued.splice(queued.indexOf(node), 1);
        running++;
        fn(node).then(
          (ok) => {
            outcome.set(node, ok ? 'ok' : 'failed');
            if (!ok) failed = true;
          },
          () => {
            // fn reports its own errors; a throw still counts as a failure, never as success
            outcome.set(node, 'failed');
            failed = true;
          },
        ).finally(() => {
          running--;
          pump();
        });
      }
      if (running === 0) {
        for (const n of queued) outcome.set(n, 'not-started');
        queued.length = 0;
        resolve(outcome);
      }
    };
    pump();
  });
}
