import { defineCommand } from '../src/shared/registry/define-command.ts';
import { tagArgs, type TagResult } from '../src/shared/contracts/rollback.ts';
import { context, esc, header, section } from '../src/shared/render/blocks.ts';
import { textTable } from '../src/shared/render/table.ts';

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

function rows(result: TagResult): string[][] {
  return result.services.map((s) => [s.service, short(s.imageId), s.originalRef]);
}

export default defineCommand({
  kind: 'job',
  name: 'tag',
  summary: 'Tags every service’s current image as rollback-YYYYMMDD-HHMMSS (UTC), a state to roll back to.',
  usage: 'tag [label]',
  help: 'Records which image each service of the stack runs now (a manifest, kept in Redis and on the worker host) and tags those images so they stay on the Engine. Only the newest tags are kept (`rollback.keep`). A label (a-z, 0-9, -, up to 20) is appended to the name.',
  examples: ['tag', 'tag before-migration'],
  role: 'operator',
  positionals: ['label'],
  args: tagArgs,
  job: 'tag',
  slack(result: TagResult) {
    const table = textTable(['SERVICE', 'IMAGE', 'FROM'], rows(result));
    const notes = [`${result.services.length} services · manifest \`${esc(result.manifestFile)}\``];
    if (result.pruned.length) notes.push(`pruned ${result.pruned.map((t) => `\`${t}\``).join(', ')}`);
    return {
      text: `Tagged ${result.project} as ${result.tag}`,
      blocks: [header(`Tagged ${result.tag}`), section(`\`\`\`${esc(table)}\`\`\``), context(`${notes.join(' · ')} · roll back with \`/cdb rollback ${result.tag}\``)],
    };
  },
  text(result: TagResult) {
    const pruned = result.pruned.length ? `\nPruned: ${result.pruned.join(', ')}` : '';
    return `Tagged ${result.project} as ${result.tag} (${result.services.length} services, manifest ${result.manifestFile})\n\n${textTable(['SERVICE', 'IMAGE', 'FROM'], rows(result))}${pruned}`;
  },
});
