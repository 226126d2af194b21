// The layers of the README's Architecture section, checked on the whole import graph (type-only
// imports included) by `npm run depcheck`, which scripts/test.sh runs as part of `npm test`.
// eslint.config.js states the direct rules for the editor; this file adds what lint cannot see:
// transitive reach (the bot process must never load Docker/SSH code, the worker never Slack code)
// and circular imports.

const BOT_SIDE = '^(src/bot/|commands/|src/main/(bot|start-bot)\\.ts$)';
const WORKER_SIDE = '^(src/(worker|features|host)/|jobs/|src/main/(worker|start-worker)\\.ts$)';
const DOCKER_SSH = 'node_modules/(@types/)?(dockerode|docker-modem|node-ssh|ssh2)/';
// @slack/types holds type declarations only (no client, no token): shared rendering may use it.
const SLACK = 'node_modules/@slack/(?!types/)';
const WORKER_CODE = '^(src/(worker|features|host)/|jobs/)';
const BOT_CODE = '^(src/bot/|commands/)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A circle (type-only ones included) means two modules are one: merge them or move the shared part down.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'bot-never-loads-docker-or-ssh',
      severity: 'error',
      comment: 'The bot process holds no Docker socket or SSH key: nothing it loads may reach dockerode, node-ssh or worker code.',
      from: { path: BOT_SIDE },
      to: { path: [DOCKER_SSH, WORKER_CODE], reachable: true },
    },
    {
      name: 'shared-never-loads-either-side',
      severity: 'error',
      comment: 'src/shared is loaded by both processes: it reaches neither Slack nor Docker/SSH, neither bot nor worker code.',
      from: { path: '^src/shared/' },
      to: { path: [DOCKER_SSH, SLACK, WORKER_CODE, BOT_CODE], reachable: true },
    },
    {
      name: 'worker-never-loads-slack',
      severity: 'error',
      comment: 'The worker holds no Slack token: it talks to Slack only through the replies queue.',
      from: { path: WORKER_SIDE },
      to: { path: [SLACK, BOT_CODE], reachable: true },
    },
    {
      name: 'commands-import-only-shared',
      severity: 'error',
      comment: 'Command modules are loaded by the bot and the CLI: they see only src/shared.',
      from: { path: '^commands/' },
      to: { path: '^(src/(?!shared/)|jobs/|commands/)' },
    },
    {
      name: 'worker-runtime-knows-no-feature',
      severity: 'error',
      comment: 'The worker runtime loads jobs/ at start-up; src/main/start-worker.ts wires features.',
      from: { path: '^src/worker/' },
      to: { path: '^(src/(features|main)/|jobs/)' },
    },
    {
      name: 'features-and-jobs-use-only-the-job-contract',
      severity: 'error',
      comment: 'Features and jobs see src/worker/define-job.ts (the job contract), not the worker runtime.',
      from: { path: '^(src/features/|jobs/)' },
      to: { path: '^src/worker/(?!define-job\\.ts$)' },
    },
    {
      name: 'features-never-import-jobs',
      severity: 'error',
      from: { path: '^src/features/' },
      to: { path: '^jobs/' },
    },
    {
      name: 'host-is-the-toolbox-below-features',
      severity: 'error',
      comment: 'src/host (Docker client, host files, compose reader) imports only src/shared.',
      from: { path: '^src/host/' },
      to: { path: '^(src/(?!shared/|host/)|jobs/|commands/)' },
    },
    {
      name: 'nothing-imports-main',
      severity: 'error',
      comment: 'src/main assembles the processes; nothing below it imports it.',
      from: { path: '^(src/(?!main/)|commands/|jobs/)' },
      to: { path: '^src/main/' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Type-only imports count: a type circle or a type import across the split is still a tangle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], mainFields: ['module', 'main', 'types', 'typings'] },
    includeOnly: '^(src|commands|jobs|node_modules)/',
  },
};
