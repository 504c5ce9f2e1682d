#!/usr/bin/env bash
# Installs the Debian 12 packages Contact Ledger builds and tests with. Idempotent: when
# everything is present it changes nothing and asks no mirror.
#   install-deps.sh          what the normal build and tests need
#   install-deps.sh fuzz     also clang, its sanitizer/libFuzzer runtimes and clang-format (fuzz.sh,
#                            sanitize.sh, format.sh, CI)
set -euo pipefail
packages=(
  cmake ninja-build g++ ccache pkg-config curl
  librocksdb-dev rocksdb-tools
  libflatbuffers-dev flatbuffers-compiler
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libspdlog-dev doctest-dev libcli11-dev
  libsodium-dev libssl-dev openssl libjemalloc-dev
  python3 python3-cryptography python3-yaml python3-jsonschema
  chromium chromium-driver prometheus
  libpq-dev postgresql-15 wrk
)
if [ "${1:-}" = "fuzz" ]; then
  packages+=(clang-14 libclang-rt-14-dev clang-format-14)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
