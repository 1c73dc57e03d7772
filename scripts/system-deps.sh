#!/usr/bin/env bash
# System packages the test suite needs beyond Python: Debian's Chromium for the browser tests,
# a PostgreSQL server for the prediction store's production-profile tests, and the container
# tools of the deploy tests. Installs them when missing, as root or through password-less sudo,
# with apt; otherwise says what to install.
set -euo pipefail
missing=()
# A Chromium-family browser: Debian's chromium; GitHub's Ubuntu runners ship Google Chrome instead
# (their `chromium` package is a snap stub), which the tests use through `--chromium`.
command -v chromium >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1 || missing+=(chromium)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
# The deploy tests: Debian's Docker engine (its client has BuildKit built in), docker-compose
# (also run by the lint hooks) and debootstrap (offline base images).
[ -x /usr/bin/docker ] && command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
# Root installs directly; a user with password-less sudo (GitHub's runners) through sudo.
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  as_root=(none)
fi
if [ "${as_root[*]}" != none ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages for the tests: ${missing[*]}"
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "the tests need these system packages: ${missing[*]} (e.g. sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
