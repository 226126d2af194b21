#!/usr/bin/env node
// The CLI is TypeScript run through tsx, so the published package needs no build step (this is why tsx
// stays in dependencies; the Docker image runs the compiled build and never loads it).
import { register } from 'tsx/esm/api';

register();
await import('../src/main/cli.ts');
