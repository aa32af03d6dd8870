#!/usr/bin/env bash
# Backup benchmark: Cairn against restic and borg on the same generated corpus.
#
#   bench/run.sh [--scale S] [--only cairn|restic|borg ...] [--work DIR] [--keep] [--seed N] [--no-build]
#
# Installs restic and borg from the Debian packages when missing, builds Cairn in release
# mode, then runs bench/run.py, which prints the results table and writes
# DIR/results.txt and DIR/results.json (DIR defaults to /tmp/cairn-bench).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"

usage() {
    sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# Which tools run (to install and build only what is needed); everything else is passed on.
build=1
want_cairn=1 want_restic=1 want_borg=1
args=()
only=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --no-build) build=0; shift ;;
        --only)
            shift
            while [[ $# -gt 0 && "$1" != --* ]]; do only+=("$1"); shift; done
            ;;
        --only=*) only+=("${1#--only=}"); shift ;;
        *) args+=("$1"); shift ;;
    esac
done
if [[ ${#only[@]} -gt 0 ]]; then
    want_cairn=0 want_restic=0 want_borg=0
    for item in "${only[@]}"; do
        IFS=',' read -ra parts <<<"$item"
        for t in "${parts[@]}"; do
            case "$t" in
                cairn) want_cairn=1 ;;
                restic) want_restic=1 ;;
                borg) want_borg=1 ;;
                "") ;;
                *) echo "run.sh: unknown tool for --only: $t (cairn, restic, borg)" >&2; exit 2 ;;
            esac
        done
    done
    args+=(--only "${only[@]}")
fi

missing=()
if [[ $want_restic == 1 ]] && ! command -v restic >/dev/null; then missing+=(restic); fi
if [[ $want_borg == 1 ]] && ! command -v borg >/dev/null; then missing+=(borgbackup); fi
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "installing ${missing[*]} ..."
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y "${missing[@]}"; then
        apt-get update
        apt-get install -y "${missing[@]}"
    fi
fi

if [[ $want_cairn == 1 && $build == 1 ]]; then
    echo "building Cairn (release) ..."
    (cd "$repo" && cargo build --release -p cairn-server -p cairn-agent -p cairnctl)
fi

exec python3 "$here/run.py" "${args[@]}"
