# Shared helpers for the recipes in this directory (sourced before each recipe by `isol8 setup`
# and `isol8 build`). A recipe runs on the host as root, inside a private mount namespace that
# isol8 creates (unshare -m), with:
#   ROOT                  the root filesystem being built (a copy of the base for layers)
#   ISOL8_VERSIONS_FILE   where record_version appends "name=version" lines
#   ISOL8_DEBIAN_MIRROR   the Debian mirror (base only; from the host's apt sources by default)
# Mounts made here (proc, dev) vanish with the namespace, so nothing leaks into the host.
set -euo pipefail
umask 022

_isol8_mounted=0
_isol8_updated=0

# Mounts /proc and a small /dev (null, zero, random, urandom, tty-less) inside $ROOT, once.
_isol8_mount_root() {
  [ "$_isol8_mounted" -eq 1 ] && return 0
  mkdir -p "$ROOT/proc" "$ROOT/dev" "$ROOT/tmp"
  mount -t proc proc "$ROOT/proc"
  mount -t tmpfs -o mode=0755,size=1m tmpfs "$ROOT/dev"
  for node in null zero full random urandom; do
    touch "$ROOT/dev/$node"
    mount --bind "/dev/$node" "$ROOT/dev/$node"
  done
  ln -s /proc/self/fd "$ROOT/dev/fd"
  mkdir -p "$ROOT/dev/shm"
  # Name resolution inside the chroot for apt and npm: the host's resolver configuration.
  if [ -f /etc/resolv.conf ]; then
    rm -f "$ROOT/etc/resolv.conf"
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
  fi
  # The host's CA bundle, for this build only (a TLS-inspecting proxy's CA may be in it): a copy
  # in the root's /tmp, which clean_root empties, named by the variables below.
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$ROOT/tmp/isol8-host-ca.crt"
  fi
  _isol8_mounted=1
}

# The variables that make npm, node, bun, deno, pip and OpenSSL trust the host's CA bundle.
_isol8_ca_env() {
  if [ -f "$ROOT/tmp/isol8-host-ca.crt" ]; then
    local ca=/tmp/isol8-host-ca.crt
    printf '%s\n' "NODE_EXTRA_CA_CERTS=$ca" "DENO_CERT=$ca" "PIP_CERT=$ca" "SSL_CERT_FILE=$ca" \
      "REQUESTS_CA_BUNDLE=$ca" "npm_config_cafile=$ca"
  fi
}

# Runs a command inside $ROOT as its root user, with a clean environment.
in_root() {
  _isol8_mount_root
  local ca_env
  mapfile -t ca_env < <(_isol8_ca_env)
  chroot "$ROOT" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "${ca_env[@]}" "$@"
}

# apt-get install inside $ROOT without recommends (the lists are fetched on first use).
apt_install() {
  # Retries ride over a mirror's passing hiccup; a failed index download is an error, not a
  # warning followed by "Unable to locate package".
  if [ "$_isol8_updated" -eq 0 ]; then
    in_root apt-get update -qq -o Acquire::Retries=3 --error-on=any
    _isol8_updated=1
  fi
  in_root apt-get install -y -qq -o Acquire::Retries=3 --no-install-recommends "$@"
}

record_version() {
  printf '%s=%s\n' "$1" "$2" >>"$ISOL8_VERSIONS_FILE"
}

# Leaves a small root: no package caches or lists, no logs, nothing in /tmp or /dev.
clean_root() {
  if [ -x "$ROOT/usr/bin/apt-get" ]; then in_root apt-get clean; fi
  rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/log/apt/* \
    "$ROOT"/var/cache/debconf/*-old "$ROOT"/var/lib/dpkg/*-old "$ROOT"/root/.npm \
    "$ROOT"/root/.cache
  if [ "$_isol8_mounted" -eq 1 ]; then
    umount -R "$ROOT/dev" "$ROOT/proc"
    _isol8_mounted=0
  fi
  find "$ROOT/tmp" "$ROOT/dev" "$ROOT/var/tmp" -mindepth 1 -delete 2>/dev/null || true
  # No setuid or setgid programs: the sandbox mounts the root nosuid and sets no_new_privs, but
  # a root copied or exported elsewhere must not carry them either.
  find "$ROOT" -xdev -perm /6000 -type f -exec chmod ug-s {} +
  mkdir -p "$ROOT/sandbox" "$ROOT/tmp" "$ROOT/proc" "$ROOT/dev"
  chmod 1777 "$ROOT/tmp"
  chmod 0755 "$ROOT/sandbox"
}
