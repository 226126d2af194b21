# cdb-chatops image, shared by the bot and the worker (compose/docker-compose.yml picks the entry point).
# Production runs compiled JavaScript under plain node: tsx at run time costs ~40 MB RSS per process
# (BENCHMARKS.md, backup section: the worker's peak RSS during a 1 GB backup).
#
# `npm test` builds it with NODE_IMAGE=cdb-test/node-base (this machine's node on busybox, no registry)
# and runs it as bot and worker (test/integration/image.test.ts); see compose/README.md.
# No HEALTHCHECK here on purpose: bot and worker listen on different HEALTH_PORTs, which only the
# compose file sets (its healthchecks call GET /healthz).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: dev dependencies + tsc -> dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Same --ignore-scripts rule as below: tsc needs no install script.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY commands ./commands
COPY jobs ./jobs
COPY runbooks ./runbooks
RUN npm run -s build

# ---- deps: production node_modules only ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency runs code at install time. The ones with install scripts
# (esbuild, ssh2, cpu-features, msgpackr-extract, protobufjs) work without them: prebuilt
# platform packages or pure-JS fallbacks.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    CDB_CONFIG=/etc/cdb/cdb.yaml
WORKDIR /app
# Code and dependencies stay root-owned and read-only to the node user: a compromised process
# cannot rewrite what it runs (compose adds read_only: true on top).
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
# dist/ holds src/, commands/, jobs/ as JavaScript and runbooks/ (the registry and the runbook
# index resolve their folders relative to the compiled files). No TypeScript source in the image.
COPY --from=build /app/dist ./dist
# The worker's state (rollback.manifestDir defaults to /var/lib/cdb/rollback): a named volume
# mounted here starts with this ownership, so the non-root worker can write to it.
RUN mkdir -p /var/lib/cdb/rollback /etc/cdb \
 && chown -R node:node /var/lib/cdb
# node (uid 1000), created by the base image.
USER node
# The bot by default; compose runs dist/src/main/worker.js for the worker.
CMD ["node", "dist/src/main/bot.js"]
