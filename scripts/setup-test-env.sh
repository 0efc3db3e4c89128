#!/usr/bin/env bash
# Puts on this machine what the test suite talks to besides Node packages:
# pnpm 10, a Redis on 127.0.0.1:6379, Debian's prometheus (the dashboard test
# runs its own server on a free port) and Debian's chromium (the live-page
# test drives it headless). Installs only what is missing; safe to run again.
set -euo pipefail

if ! command -v pnpm >/dev/null 2>&1 || [[ "$(pnpm --version)" != 10.* ]]; then
  npm install -g pnpm@10 >/dev/null
fi

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[[ -x /usr/bin/prometheus ]] || missing+=(prometheus)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
if ((${#missing[@]} > 0)); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  # The packages' own services are not wanted: tests start their own servers.
  for service in prometheus; do
    $sudo service "$service" stop >/dev/null 2>&1 || true
  done
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi
