// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Code that only the worker may load: it holds the Docker socket and SSH keys. */
const PRIVILEGED = [
  { name: 'dockerode', message: 'The bot holds no Docker access: enqueue a job instead.' },
  { name: 'node-ssh', message: 'The bot holds no SSH keys: enqueue a job instead.' },
  { name: 'ssh2', message: 'The bot holds no SSH keys: enqueue a job instead.' },
];
const PRIVILEGED_PATHS = ['**/worker/**', '**/jobs/**', '../jobs/*', '../../jobs/*', '**/alerts/**'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The privilege split, enforced: the bot and the command modules it loads never import Docker/SSH code.
    files: ['src/bot/**/*.ts', 'src/console/**/*.ts', 'src/approval/**/*.ts', 'src/auth/**/*.ts', 'src/registry/**/*.ts', 'src/render/**/*.ts', 'src/contracts/**/*.ts', 'commands/**/*.ts', 'src/main/bot.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: PRIVILEGED, patterns: [{ group: PRIVILEGED_PATHS, message: 'Worker code stays out of the bot process.' }] }],
    },
  },
  {
    // And the other way round: the worker never talks to Slack itself; it sends replies through the queue.
    files: ['src/worker/**/*.ts', 'src/alerts/**/*.ts', 'jobs/**/*.ts', 'src/main/worker.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['@slack/*', '**/bot/**'], message: 'The worker holds no Slack token: send a reply through the replies queue.' }] }],
    },
  },
  {
    // The approval gate and what it loads run in both processes: neither Slack nor Docker/SSH code.
    files: ['src/approval/{gate,store,policy,digest,group-mirror,state-machine,types}.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: PRIVILEGED,
        patterns: [{ group: [...PRIVILEGED_PATHS, '@slack/*', '**/bot/**'], message: 'Shared approval code depends on neither process.' }],
      }],
    },
  },
);
