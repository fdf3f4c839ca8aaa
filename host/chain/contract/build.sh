#!/usr/bin/env bash
# Rebuilds attestation_registry.{sierra,casm}.json from src/lib.cairo using registry packages only:
# the PyPI sdist of cairo-lang 0.13.1 ships static starknet-compile / starknet-sierra-compile 2.6.0
# binaries and the Cairo 2.6.0 corelib minus eight small files, which corelib-patch/ restores.
#
#   contract/build.sh           rebuild the committed class files in place
#   contract/build.sh --check   rebuild into a temp folder and fail if they differ from the committed ones
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${OBELYSK_CACHE:-$HOME/.cache/obelysk}/cairo-lang-0.13.1
sdist_sha256=c7b5b732af1102af7da5a3e042632f92b49450ddfb08239945faf01c8c3a9da6

if [ ! -x "$cache/bin/starknet-compile" ]; then
  download=$(mktemp -d)
  trap 'rm -rf "$download"' EXIT
  python3 -m pip download --quiet --no-deps cairo-lang==0.13.1 -d "$download"
  echo "$sdist_sha256  $download/cairo-lang-0.13.1.zip" | sha256sum --check --quiet
  inner=cairo-lang-0.13.1/starkware/starknet/compiler/v1/sierra-compiler-major-1
  python3 - "$download" "$inner" <<'PY'
import sys, zipfile
folder, inner = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(f"{folder}/cairo-lang-0.13.1.zip") as sdist:
    for member in sdist.infolist():
        if member.filename.startswith(inner + "/"):
            sdist.extract(member, folder)
PY
  chmod +x "$download/$inner/bin/"*
  rm -rf "$cache" && mkdir -p "$(dirname "$cache")"
  mv "$download/$inner" "$cache"
fi

# The compilers find the corelib next to their own folder: assemble bin/ + patched corelib/.
# Cairo 2.6 hashes the source's absolute path into type ids (so into the class hash): compile
# from one fixed path, whatever the checkout's, one build at a time.
work=/tmp/obelysk-cairo-2.6.0
exec 9>"$work.lock"
flock 9
rm -rf "$work" && mkdir -p "$work/registry"
trap 'rm -rf "$work"' EXIT
cp -r "$cache/bin" "$cache/corelib" "$work/"
cp -r "$here/corelib-patch/." "$work/corelib/src/"
cp "$here/src/lib.cairo" "$work/registry/lib.cairo"

out=$here
[ "${1:-}" = "--check" ] && out=$work
"$work/bin/starknet-compile" --single-file "$work/registry/lib.cairo" "$out/attestation_registry.sierra.json"
"$work/bin/starknet-sierra-compile" "$out/attestation_registry.sierra.json" "$out/attestation_registry.casm.json"

if [ "${1:-}" = "--check" ]; then
  for f in attestation_registry.sierra.json attestation_registry.casm.json; do
    cmp -s "$work/$f" "$here/$f" || { echo "contract: $f is stale: run host/chain/contract/build.sh" >&2; exit 1; }
  done
  echo "contract: committed class files match a fresh build"
fi
