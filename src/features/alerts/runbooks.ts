import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SYMPTOM_ORDER, type SymptomKind } from './symptoms.ts';

/**
 * Runbooks are runbooks/*.md with YAML front matter; `symptoms:` lists what each one covers:
 * symptom names (below) and phrases that appear in log lines, e.g. "is a directory".
 */
export const RUNBOOK_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'runbooks');

/** Front-matter words that name a symptom kind rather than a log phrase. */
const KIND_WORDS: Record<SymptomKind, readonly string[]> = {
  restarting: ['restarting', 'restart loop', 'crash loop', 'crashloop', 'restart count rising'],
  exited: ['exited', 'exited non-zero', 'crashed', 'container exited'],
  unhealthy: ['unhealthy', 'health check failing', 'healthcheck failing', 'health check failure'],
  errors: ['error burst', 'errors', 'error rate'],
};

export interface Runbook {
  readonly id: string;
  readonly title: string;
  readonly file: string;
  readonly symptoms: readonly string[];
}

export interface RunbookMatch extends Runbook {
  readonly matchedBy: string;
}

const frontMatter = z.object({ id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,60}$/).optional(), title: z.string().max(200).optional(), symptoms: z.array(z.string().min(2).max(200)).max(100).optional() }).loose();

/** Parses one runbook; undefined when it has no usable front matter (such files are skipped). */
export function parseRunbook(file: string, text: string): Runbook | undefined {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(text);
  if (!m?.[1]) return undefined;
  let data: unknown;
  try {
    data = parseYaml(m[1]);
  } catch {
    return undefined;
  }
  const fm = frontMatter.safeParse(data);
  if (!fm.success || !fm.data.symptoms?.length) return undefined;
  const id = fm.data.id ?? file.replace(/\.md$/, '');
  const heading = /^#\s+(.+)$/m.exec(text.slice(m[0].length))?.[1]?.trim();
  return { id, title: fm.data.title ?? heading ?? id, file, symptoms: fm.data.symptoms.map((s) => s.toLowerCase().trim()) };
}

export async function loadRunbooks(dir = RUNBOOK_DIR): Promise<Runbook[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => /^[a-z0-9][a-z0-9-]*\.md$/.test(f)).sort();
  } catch {
    return [];
  }
  const out: Runbook[] = [];
  for (const f of files) {
    const rb = parseRunbook(f, await readFile(join(dir, f), 'utf8').catch(() => ''));
    if (rb) out.push(rb);
  }
  return out;
}

/**
 * The runbook that best fits: phrases found in the evidence lines count most (10 each: "is a
 * directory" says more than "restarting"), then the weightiest symptom name (a crash outranks a
 * failing health check, which outranks an error burst); ties go to the first file.
 */
export function matchRunbook(runbooks: readonly Runbook[], kinds: readonly SymptomKind[], evidence: readonly string[]): RunbookMatch | undefined {
  const text = evidence.join('\n').toLowerCase();
  let best: { rb: Runbook; score: number; by: string } | undefined;
  for (const rb of runbooks) {
    let phrases = 0;
    let phraseBy = '';
    let kindScore = 0;
    let kindBy = '';
    for (const s of rb.symptoms) {
      const kind = (Object.keys(KIND_WORDS) as SymptomKind[]).find((k) => KIND_WORDS[k].includes(s));
      if (kind) {
        const weight = 1 + (SYMPTOM_ORDER.length - SYMPTOM_ORDER.indexOf(kind)) / 10;
        if (kinds.includes(kind) && weight > kindScore) {
          kindScore = weight;
          kindBy = s;
        }
      } else if (s.length >= 3 && text.includes(s)) {
        phrases++;
        phraseBy ||= `"${s}" in the logs`;
      }
    }
    const score = phrases * 10 + kindScore;
    if (score > (best?.score ?? 0)) best = { rb, score, by: phraseBy || kindBy };
  }
  return best ? { ...best.rb, matchedBy: best.by } : undefined;
}

export function runbookLink(rb: Pick<Runbook, 'file' | 'title'>, baseUrl?: string): string {
  if (!baseUrl) return `\`runbooks/${rb.file}\``;
  const url = `${baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(rb.file)}`;
  return `<${url}|${rb.title.replace(/[<>|]/g, '')}>`;
}
