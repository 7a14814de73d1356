# The base of every runtime root: Debian 12 minbase with CA certificates, bash and coreutils,
# and the sandbox user (uid 100, gid 101, home /sandbox), from the host's Debian mirror.
mirror=${ISOL8_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  # The first Debian archive URI the host's apt is configured with (deb822 or one-line form).
  mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)[[:space:]]*$/\1/p' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)
fi
if [ -z "$mirror" ]; then
  mirror=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\/debian\)[[:space:]]\+bookworm[[:space:]].*/\2/p' \
    /etc/apt/sources.list 2>/dev/null | head -n1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}
echo "isol8: debootstrap bookworm from $mirror"
# --variant=minbase: essential and apt only; ca-certificates for TLS from inside the sandbox.
debootstrap --variant=minbase --include=ca-certificates bookworm "$ROOT" "$mirror"
in_root groupadd --gid 101 sandbox
in_root useradd --uid 100 --gid 101 --home-dir /sandbox --no-create-home --shell /bin/bash sandbox
# A locale archive for C.UTF-8, the sandbox's LANG: without one, glibc opens each category's
# file on its own (about 30 opens at every start of bash, 0.1 to 0.15 ms).
in_root localedef --add-to-archive /usr/lib/locale/C.utf8
record_version debian "$(cat "$ROOT/etc/debian_version")"
record_version bash "$(in_root bash -c 'echo "$BASH_VERSION"')"
