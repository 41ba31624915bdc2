#!/usr/bin/env bash
# Fetches the pinned GraphiQL files from the npm registry into vendor/.
#
#   assets/graphiql/fetch.sh           download, check, copy into vendor/
#   assets/graphiql/fetch.sh --check   download, check, compare with vendor/
#
# Each tarball must match its pinned sha512 (npm's "integrity" value) or
# nothing is copied. To move to another version, change its line below:
# the version and the integrity (`npm view NAME@VERSION dist.integrity`),
# run this script, then update README.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
check=false
case "${1:-}" in
  "") ;;
  --check) check=true ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

# name version integrity files (paths inside the package)...
pins=(
  "graphiql 3.9.0 sha512-rJYFlHdBbug9+YbFSwRVvgfPjCayC7wHecZkx/qB4XLuQPFQZw/yB9pmHFtOJV6RiNBBHro3u1GdocKa3YcGRA== graphiql.min.js graphiql.min.css LICENSE"
  "react 18.3.1 sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ== umd/react.production.min.js LICENSE"
  "react-dom 18.3.1 sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw== umd/react-dom.production.min.js LICENSE"
  "graphql-ws 6.4.2 sha512-wxhPhhOGJo8PbGDkBYVE76sZLDrS+GkyrR4bZECSLVbo0pZZNKs0HtBh2Ip/uaUuiVUxwO9ssI9R92buQfNSqQ== umd/graphql-ws.min.js LICENSE.md"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

for pin in "${pins[@]}"; do
  read -r name version integrity files <<<"$pin"
  tarball=$(cd "$work" && npm pack --silent "$name@$version")
  actual="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)"
  if [ "$actual" != "$integrity" ]; then
    echo "$name@$version: the tarball's sha512 is $actual, not the pinned $integrity" >&2
    exit 1
  fi
  mkdir "$work/$name"
  tar xzf "$work/$tarball" -C "$work/$name"
  for file in $files; do
    from="$work/$name/package/$file"
    to="$here/vendor/$name/$(basename "$file")"
    if $check; then
      if ! cmp -s "$from" "$to"; then
        echo "vendor/$name/$(basename "$file") differs from $name@$version" >&2
        status=1
      fi
    else
      install -D -m 644 "$from" "$to"
    fi
  done
  echo "$name@$version: $integrity"
done
exit $status
