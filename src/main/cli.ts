import { userInfo } from 'node:os';
import { loadConfig } from '../config/load.ts';
import { createLogger } from '../log.ts';
import { runCli } from '../cli/run-cli.ts';

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
