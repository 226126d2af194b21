// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * The privilege split, on folder globs (the README's Architecture section has the map):
 *   bot side     src/bot, commands, and the bot's assemblers in src/main: no Docker, SSH or worker code.
 *   worker side  src/worker, src/features, src/host, jobs, and the worker's assemblers: no Slack.
 *   shared       src/shared: loaded by both, so neither side's code.
 * dependency-cruiser (.dependency-cruiser.cjs, run by scripts/test.sh) checks the same layers
 * transitively and forbids circular imports; this lint gives the same answer in the editor.
 */
const DOCKER_SSH = [
  { name: 'dockerode', message: 'The bot holds no Docker access: enqueue a job instead.' },
  { name: 'node-ssh', message: 'The bot holds no SSH keys: enqueue a job instead.' },
  { name: 'ssh2', message: 'The bot holds no SSH keys: enqueue a job instead.' },
];
const WORKER_FOLDERS = ['**/worker/**', '**/features/**', '**/host/**', '**/jobs/**', '**/jobs/*'];
const BOT_FOLDERS = ['**/bot/**', '**/commands/**', '**/commands/*'];
// @slack/types is type declarations only (no client, no token): shared rendering may use it.
const SLACK = ['@slack/*', '!@slack/types'];
const MAIN = ['**/main/**'];

const notWorker = { group: WORKER_FOLDERS, message: 'Worker code stays out of the bot process: enqueue a job instead.' };
const notBot = { group: ['@slack/*', ...BOT_FOLDERS], message: 'The worker holds no Slack token: send a reply through the replies queue.' };
const notMain = { group: MAIN, message: 'src/main assembles the processes: nothing imports it.' };

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/bot/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: DOCKER_SSH, patterns: [notWorker, notMain] }] },
  },
  {
    files: ['src/main/bot.ts', 'src/main/start-bot.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: DOCKER_SSH, patterns: [notWorker] }] },
  },
  {
    // Commands are loaded by the bot (and the CLI): they see only what both processes share.
    files: ['commands/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: DOCKER_SSH,
        patterns: [notWorker, notMain, { group: ['**/src/bot/**'], message: 'Commands import only src/shared.' }],
      }],
    },
  },
  {
    files: ['src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: DOCKER_SSH,
        patterns: [notWorker, notMain, { group: [...SLACK, ...BOT_FOLDERS], message: 'src/shared is loaded by both processes: no Slack, Docker, SSH, bot or worker code.' }],
      }],
    },
  },
  {
    // The worker's assemblers wire features (doctor schedules, the alerts watcher) but never Slack.
    files: ['src/main/worker.ts', 'src/main/start-worker.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [notBot] }] },
  },
  {
    files: ['src/worker/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [notBot, notMain, { group: ['**/jobs/**', '**/jobs/*', '**/features/**'], message: 'The worker runtime loads jobs from jobs/ at start-up; it imports no job or feature code.' }] }] },
  },
  {
    files: ['src/features/**/*.ts', 'jobs/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [notBot, notMain, { group: ['**/worker/**', '!**/worker/define-job.ts'], message: 'Features and jobs use the job contract (src/worker/define-job.ts), not the worker runtime.' }] }] },
  },
  {
    files: ['src/host/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [notBot, notMain, { group: ['**/worker/**', '**/features/**', '**/jobs/**', '**/jobs/*'], message: 'src/host is the toolbox below the features: it imports only src/shared.' }] }] },
  },
);
