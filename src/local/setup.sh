#!/usr/bin/env bash
# Installs what cachebench needs on a Debian/Ubuntu machine with Node >= 20:
# Debian's redis-server, redis-tools, nutcracker, memcached, util-linux's setpriv and nsenter, iproute2's ip (when missing), the npm
# packages, the build. setpriv --pdeathsig makes the servers of a run die with cachebench.
# Also, best effort: Debian's chromium and fonts-liberation, for the test that opens report.html in a
# real headless browser (CACHEBENCH_CHROMIUM names another Chromium or Chrome binary instead), and
# libmemcached-tools, whose memaslap (memcaslap) is bench:memcache's C reference.
# Idempotent: quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
{ command -v redis-cli >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1; } || need+=(redis-tools)
command -v nutcracker >/dev/null 2>&1 || need+=(nutcracker)
command -v memcached >/dev/null 2>&1 || need+=(memcached)
{ command -v setpriv >/dev/null 2>&1 && command -v taskset >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1; } || need+=(util-linux)
# ip (network namespaces, a bridge, veth pairs: --network namespaces and the partition faults).
command -v ip >/dev/null 2>&1 || need+=(iproute2)
optional=()
if [ -z "${CACHEBENCH_CHROMIUM:-}" ]; then
  command -v chromium >/dev/null 2>&1 || optional+=(chromium)
  [ -d /usr/share/fonts/truetype/liberation ] || optional+=(fonts-liberation)
fi
command -v memcaslap >/dev/null 2>&1 || optional+=(libmemcached-tools)

optional_missing() {
  echo "setup: warning: could not install ${optional[*]} ($1); only the report.html browser test (chromium) and bench:memcache (libmemcached-tools) need them. Fix: install Chromium or Chrome and set CACHEBENCH_CHROMIUM=/path/to/it" >&2
  optional=()
}

if [ $((${#need[@]} + ${#optional[@]})) -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]} ${optional[*]}" >&2
  can_install=yes
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    can_install="no root or sudo"
  fi
  command -v apt-get >/dev/null 2>&1 || can_install="no apt-get"
  if [ "$can_install" != yes ]; then
    if [ ${#need[@]} -gt 0 ]; then
      echo "setup: error: cannot install ${need[*]} (${can_install}). Fix: install ${need[*]} as root with your system's package manager, then run this again." >&2
      exit 2
    fi
    optional_missing "$can_install"
  else
    export DEBIAN_FRONTEND=noninteractive
    if ! "${as_root[@]}" apt-get update -qq; then
      if [ ${#need[@]} -gt 0 ]; then
        echo "setup: error: apt-get update failed. Fix: repair the package sources, then run this again." >&2
        exit 2
      fi
      optional_missing "apt-get update failed"
    fi
    # policy-rc.d 101: do not start the packaged redis and memcached services (6379, 11211); cachebench starts its own.
    if [ ${#need[@]} -gt 0 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee /usr/sbin/policy-rc.d >/dev/null
      "${as_root[@]}" chmod +x /usr/sbin/policy-rc.d
      trap '"${as_root[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    if [ ${#need[@]} -gt 0 ]; then
      "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
    # The optional packages serve one test and one benchmark: where the distribution has no chromium package (Ubuntu
    # ships it as a snap), say so and go on.
    # One at a time: a package the distribution lacks must not keep the others out.
    missing=()
    for pkg in "${optional[@]}"; do
      "${as_root[@]}" apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
      optional=("${missing[@]}")
      optional_missing "apt-get install failed"
    fi
  fi
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: error: Node $(node -v) is too old. Fix: install Node 20 or newer." >&2
  exit 2
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build
echo "setup: ready ($(redis-server --version | cut -d' ' -f3), $(memcached -V), $(nutcracker --version 2>&1 | head -1), node $(node -v))" >&2
