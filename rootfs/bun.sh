# Bun from the npm registry package `bun`: fetched with the host's npm into a temporary
# directory (install scripts off), and its platform binary copied into the root.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm install --prefix "$tmp" --no-audit --no-fund --ignore-scripts --loglevel=error bun
bin=$tmp/node_modules/@oven/bun-linux-x64/bin/bun
[ -x "$bin" ] || bin=$tmp/node_modules/bun/bin/bun.exe
install -m 0755 "$bin" "$ROOT/usr/local/bin/bun"
ln -sf bun "$ROOT/usr/local/bin/bunx"
record_version bun "$(in_root bun --version)"
