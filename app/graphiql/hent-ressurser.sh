#!/bin/sh
# GraphiQL's browser assets, fetched from the npm registry (`npm pack`, which checks each tarball
# against the registry's integrity hash) at pinned versions, copied into statisk/vendor/ with each
# package's licence, then checked against statisk/vendor/SHA256SUMS. The files are committed: the
# service and its tests need no network; this script only documents where they came from and
# re-fetches them (`make graphiql-assets`). `--check` fetches into a temporary directory and only
# compares with what is committed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
vendor="$here/statisk/vendor"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "${1:-}" = "--check" ]; then
    target="$tmp/vendor"
    mkdir -p "$target"
    cp "$vendor/SHA256SUMS" "$target/"
else
    target="$vendor"
fi

# unpack SPEC: the tarball of SPEC (name@version) unpacked into $tmp/SPEC/package
unpack() {
    mkdir -p "$tmp/$1"
    tarball=$(cd "$tmp/$1" && npm pack --silent "$1")
    tar xzf "$tmp/$1/$tarball" -C "$tmp/$1"
}

# take SPEC DIRECTORY FILE...: FILEs of SPEC's package (paths inside it) into vendor/DIRECTORY
take() {
    spec=$1 dir=$2
    shift 2
    mkdir -p "$target/$dir"
    for file in "$@"; do
        cp "$tmp/$spec/package/$file" "$target/$dir/$(basename "$file")"
    done
}

unpack react@18.3.1
take react@18.3.1 react@18.3.1 umd/react.production.min.js LICENSE
unpack react-dom@18.3.1
take react-dom@18.3.1 react-dom@18.3.1 umd/react-dom.production.min.js LICENSE
unpack graphiql@3.9.0
take graphiql@3.9.0 graphiql@3.9.0 graphiql.min.js graphiql.min.css LICENSE
unpack @graphiql/plugin-explorer@3.2.6
take @graphiql/plugin-explorer@3.2.6 graphiql-plugin-explorer@3.2.6 dist/index.umd.js dist/style.css
# The explorer's tarball has no licence file; its package.json says MIT, and it comes from the
# same repository as graphiql (github.com/graphql/graphiql), whose licence is graphiql's.
cp "$tmp/graphiql@3.9.0/package/LICENSE" "$target/graphiql-plugin-explorer@3.2.6/LICENSE"
# It bundles graphiql-explorer (MIT), whose licence is kept beside it too.
unpack graphiql-explorer@0.9.0
cp "$tmp/graphiql-explorer@0.9.0/package/LICENSE" \
    "$target/graphiql-plugin-explorer@3.2.6/LICENSE.graphiql-explorer"

cd "$target" && sha256sum --check --quiet SHA256SUMS && echo "GraphiQL's assets match SHA256SUMS"
