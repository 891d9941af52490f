#!/usr/bin/env bash
# Validates both compose files with `docker-compose config` (Debian's docker-compose; no engine needed):
# the sandbox (docker-compose.yml) with an empty environment, since it must need nothing; production
# (docker-compose.prod.yml) refused without its secrets, and valid with a placeholder for each.
set -euo pipefail
cd "$(dirname "$0")/.."

# An empty env file: a developer's .env must not make a missing secret look set.
empty_env=$(mktemp)
trap 'rm -f "$empty_env"' EXIT
bare() { env -i PATH="$PATH" HOME="${HOME:-/root}" docker-compose --env-file "$empty_env" "$@"; }

bare -f docker-compose.yml config -q
if grep -q ':?' docker-compose.yml; then
  echo "docker-compose.yml requires a variable: the sandbox must start with nothing set" >&2
  exit 1
fi
echo "docker-compose.yml: valid, nothing to set"

if bare -f docker-compose.prod.yml config -q 2>/dev/null; then
  echo "docker-compose.prod.yml accepted an empty environment: its secrets must be required (\${VAR:?...})" >&2
  exit 1
fi
required=$(grep -o '\${[A-Z0-9_]*:?' docker-compose.prod.yml | sed 's/^\${//; s/:?$//' | sort -u)
placeholders=()
for name in $required; do placeholders+=("$name=placeholder"); done
env -i PATH="$PATH" HOME="${HOME:-/root}" "${placeholders[@]}" docker-compose --env-file "$empty_env" -f docker-compose.prod.yml config -q
echo "docker-compose.prod.yml: valid, refused without its $(echo "$required" | wc -l) required secrets"
