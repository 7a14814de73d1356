# Deno from the npm registry package `deno`: fetched with the host's npm into a temporary
# directory (install scripts off), and its platform binary copied into the root.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm install --prefix "$tmp" --no-audit --no-fund --ignore-scripts --loglevel=error deno
install -m 0755 "$tmp/node_modules/@deno/linux-x64-glibc/deno" "$ROOT/usr/local/bin/deno"
record_version deno "$(in_root env DENO_DIR=/tmp/deno-dir deno --version | head -n1 | cut -d' ' -f2)"
