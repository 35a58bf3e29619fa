#!/usr/bin/env bash
# Checks the OpenAPI document the way API users meet it, with independent tools:
#
#   scripts/test-clients.sh            (make test runs it after building the server)
#
# 1. starts target/debug/booking-api (built by the caller; this script builds
#    nothing) on port 0 with a throw-away SQLite database and an API key, and
#    reads the live /openapi.json;
# 2. openapi-spec-validator: the document is valid OpenAPI 3.1 (0 errors);
# 3. openapi-python-client generates a client, and pytest runs the README's
#    walkthrough through that client only against the server
#    (tests/clients/python), and checks every example against its schema;
# 4. openapi-typescript generates types, and `tsc --noEmit` compiles
#    tests/clients/typescript/walkthrough.ts against them.
#
# The tools are installed at pinned versions under target/client-tools (a
# Python venv and an npm prefix), once: later runs reuse them. Quiet unless
# a step fails (then its output is shown and the exit status is non-zero);
# prints pytest's summary line.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
bin=${BOOKING_API_BIN:-$target/debug/booking-api}
tools=$target/client-tools
venv=$tools/venv
npm_prefix=$tools/npm
gen=$tools/generated

# Pinned tool versions (Python 3.11+, Node 18+).
py_pins=(
  openapi-spec-validator==0.9.0
  openapi-python-client==0.29.1
  pytest==9.2.0
  httpx==0.28.1 # what the generated client uses (openapi-python-client wants <0.29)
  python-dateutil==2.9.0.post0
)
npm_pins=(openapi-typescript@7.13.0 typescript@5.9.3)

work=$(mktemp -d "${TMPDIR:-/tmp}/booking-clients.XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# step NAME COMMAND...: runs quietly; on failure shows the output and exits.
step() {
  local name=$1
  shift
  if ! "$@" >"$work/$name.log" 2>&1; then
    echo "test-clients: $name failed:" >&2
    cat "$work/$name.log" >&2
    exit 1
  fi
}

if [ ! -x "$bin" ]; then
  echo "test-clients: $bin not found; build it first (cargo build -p booking-server --bin booking-api)" >&2
  exit 1
fi

# ---------------------------------------------------------------- tools

apt_install() {
  echo "test-clients: $1 not found; installing ${*:2} with apt-get" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${@:2}" >/dev/null
}
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install "python3 venv" python3-venv
command -v npm >/dev/null || apt_install npm nodejs npm

install_python_tools() {
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${py_pins[@]}"
}
if [ "$(cat "$venv/.pins" 2>/dev/null)" != "${py_pins[*]}" ] || [ ! -x "$venv/bin/openapi-python-client" ]; then
  step pip-install install_python_tools
  echo "${py_pins[*]}" >"$venv/.pins"
fi

install_npm_tools() {
  rm -rf "$npm_prefix"
  mkdir -p "$npm_prefix"
  npm install --prefix "$npm_prefix" --no-audit --no-fund --no-save --loglevel=error "${npm_pins[@]}"
}
if [ "$(cat "$npm_prefix/.pins" 2>/dev/null)" != "${npm_pins[*]}" ] || [ ! -x "$npm_prefix/node_modules/.bin/tsc" ]; then
  step npm-install install_npm_tools
  echo "${npm_pins[*]}" >"$npm_prefix/.pins"
fi

# ---------------------------------------------------------------- server

export DATABASE_URL="sqlite://$work/booking.db"
export BOOKING_BIND=127.0.0.1:0
export BOOKING_LOG=info
export NO_COLOR=1

step create-key "$bin" keys create --account acme
key=$(grep -o 'sk_[A-Za-z0-9]*' "$work/create-key.log" | head -n 1)
if [ -z "$key" ]; then
  echo "test-clients: no key in the output of keys create:" >&2
  cat "$work/create-key.log" >&2
  exit 1
fi

: >"$work/server.log"
"$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!
url=
for _ in $(seq 1 300); do
  url=$(grep -o 'listening on http://[0-9.:]*' "$work/server.log" | head -n 1 | sed 's/^listening on //' || true)
  [ -n "$url" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "test-clients: the server did not start:" >&2
  cat "$work/server.log" >&2
  exit 1
fi

doc=$work/openapi.json
step fetch-document "$venv/bin/python" -c '
import sys, httpx
r = httpx.get(sys.argv[1] + "/openapi.json", timeout=10)
r.raise_for_status()
open(sys.argv[2], "wb").write(r.content)
' "$url" "$doc"

# ---------------------------------------------------------------- checks

export PATH="$venv/bin:$npm_prefix/node_modules/.bin:$PATH"

step openapi-spec-validator openapi-spec-validator --validation-errors all "$doc"

rm -rf "$gen"
mkdir -p "$gen/python" "$gen/typescript"
cat >"$work/python-client.yml" <<'EOF'
project_name_override: booking-api-client
package_name_override: booking_api_client
EOF
step openapi-python-client openapi-python-client generate --path "$doc" \
  --config "$work/python-client.yml" --meta none --output-path "$gen/python/booking_api_client"
# It exits 0 on warnings (parts of the document it could not use): refuse them.
if grep -qi 'warning' "$work/openapi-python-client.log"; then
  echo "test-clients: openapi-python-client warned:" >&2
  cat "$work/openapi-python-client.log" >&2
  exit 1
fi

if ! PYTHONPATH="$gen/python" BOOKING_API_URL=$url BOOKING_API_KEY=$key BOOKING_OPENAPI=$doc \
  pytest -q --tb=short -p no:cacheprovider "$root/tests/clients/python" >"$work/pytest.log" 2>&1; then
  echo "test-clients: pytest failed:" >&2
  cat "$work/pytest.log" >&2
  exit 1
fi
echo "test-clients: python client: $(tail -n 1 "$work/pytest.log")"

step openapi-typescript openapi-typescript "$doc" -o "$gen/typescript/booking-api.d.ts"
cat >"$gen/typescript/tsconfig.json" <<EOF
{
  "compilerOptions": {
    "strict": true,
    "noEmit": true,
    "noUnusedLocals": true,
    "target": "ES2022",
    "module": "ES2022",
    "moduleResolution": "bundler",
    "lib": ["ES2022", "DOM"],
    "types": [],
    "paths": {"booking-api": ["./booking-api.d.ts"]}
  },
  "files": ["$root/tests/clients/typescript/walkthrough.ts"]
}
EOF
step tsc tsc -p "$gen/typescript/tsconfig.json"
