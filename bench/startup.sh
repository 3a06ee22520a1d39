#!/usr/bin/env bash
# CLI start-up with hyperfine: `node -e 0`, a minimal oclif v4 CLI (only @oclif/core, with a manifest, started by
# plain `execute()`), `scalingo-tcp --version` and `scalingo-tcp env -a APP` against the fake platform
# (bench/fake-platform.ts), and loading got: importing its own package, and loading it as the CLI does (the
# one-file bundle made by scripts/bundle-got.js, dist/vendor/got.cjs, with Node's compile cache on where bin/run.js
# turns it on, Node >= 22.1). For comparison, the minimal CLI with Node's compile cache on (NODE_COMPILE_CACHE).
# Prints hyperfine's table (means), then medians and minimums with the ratio to the minimal oclif CLI.
#   bench/startup.sh            # RUNS=30 WARMUP=3 by default; needs `npm run build` and hyperfine
#   NODE=/path/to/node24/bin/node bench/startup.sh   # every timed command on that Node (the fake platform too);
#                                                    # or put that Node's bin directory first on PATH
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
NODE=${NODE:-node}
command -v hyperfine >/dev/null || { echo "hyperfine is not installed (apt-get install hyperfine)" >&2; exit 1; }
[[ -f $ROOT/dist/commands/env.js ]] || { echo "run npm run build first" >&2; exit 1; }

# A minimal oclif v4 ESM CLI in a temp dir, using this checkout's @oclif/core (no install).
MINI=$(mktemp -d /tmp/minimal-oclif-XXXXXX)
FAKE_PID=
cleanup() { [[ -n $FAKE_PID ]] && kill "$FAKE_PID" 2>/dev/null; rm -rf "$MINI"; }
trap cleanup EXIT
mkdir -p "$MINI/bin" "$MINI/commands"
ln -s "$ROOT/node_modules" "$MINI/node_modules"
cat >"$MINI/package.json" <<'JSON'
{"name": "mini", "version": "1.0.0", "type": "module", "bin": {"mini": "./bin/run.js"},
 "files": ["bin", "commands"], "oclif": {"bin": "mini", "dirname": "mini", "commands": "./commands"}}
JSON
printf '%s\n' "import {execute} from '@oclif/core'" "await execute({dir: import.meta.url})" >"$MINI/bin/run.js"
printf '%s\n' "import {Command} from '@oclif/core'" \
  "export default class Hello extends Command { static description = 'Say hello'; async run() { this.log('hello') } }" \
  >"$MINI/commands/hello.js"
(cd "$MINI" && "$ROOT/node_modules/.bin/oclif" manifest >/dev/null 2>&1) || echo "note: no manifest for the minimal CLI" >&2

# The fake platform, for `env -a APP`.
FIFO=$MINI/fake.env
mkfifo "$FIFO"
(cd "$ROOT" && exec "$NODE" --import tsx bench/fake-platform.ts) >"$FIFO" &
FAKE_PID=$!
ENV_ARGS=()
while IFS= read -r line; do ENV_ARGS+=("$line"); [[ $line == APP=* ]] && break; done <"$FIFO"
APP=${ENV_ARGS[-1]#APP=}
HOME_DIR=$MINI/home; mkdir -p "$HOME_DIR"
export HOME=$HOME_DIR SCALINGO_TCP_NO_UPDATE=1
for kv in "${ENV_ARGS[@]}"; do export "${kv?}"; done
"$NODE" "$ROOT/bin/run.js" env -a "$APP" >/dev/null || { echo "env -a $APP failed against the fake platform" >&2; exit 1; }

hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-markdown "$MINI/results.md" --export-json "$MINI/results.json" \
  -n 'node -e 0' "$NODE -e 0" \
  -n 'minimal oclif CLI' "$NODE $MINI/bin/run.js hello" \
  -n 'minimal oclif CLI, compile cache on' "env NODE_COMPILE_CACHE=$MINI/compile-cache $NODE $MINI/bin/run.js hello" \
  -n 'scalingo-tcp --version' "$NODE $ROOT/bin/run.js --version" \
  -n "scalingo-tcp env -a $APP" "$NODE $ROOT/bin/run.js env -a $APP" \
  -n 'import got' "$NODE --input-type=module -e \"await import('$ROOT/node_modules/got/dist/source/index.js')\"" \
  -n 'load got as the CLI does' "$NODE --input-type=module -e \"(await import('node:module')).default.enableCompileCache?.(); await (await import('$ROOT/dist/lib/api/load-got.js')).loadGot()\""
cat "$MINI/results.md"
echo
node -e '
const results = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8")).results
const ms = (s) => (s * 1000).toFixed(1)
const mini = results.find((r) => r.command === "minimal oclif CLI")
console.log("| Command | Median [ms] | Min [ms] | Median / minimal oclif |")
console.log("|:---|---:|---:|---:|")
for (const r of results) console.log(`| \`${r.command}\` | ${ms(r.median)} | ${ms(r.min)} | ${(r.median / mini.median).toFixed(2)} |`)
' "$MINI/results.json"
