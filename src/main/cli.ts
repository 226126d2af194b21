import { userInfo } from 'node:os';
import { loadConfig } from '../shared/config/load.ts';
import { createLogger } from '../shared/log.ts';
import { runCli } from './run-cli.ts';

const log = createLogger({ name: 'cdb-cli', level: process.env.LOG_LEVEL ?? 'warn', destination: process.stderr });
const code = await runCli({
  argv: process.argv.slice(2),
  loadConfig: () => loadConfig(),
  user: userInfo().username,
  log,
  stdout: process.stdout,
  stderr: process.stderr,
});
process.exit(code);
