#include "backends/docker/session_scripts.h"

namespace isol8::docker {

const char* const kPidPrelude = R"SH(printf 'isol8-pid:%d\n' "$$"
exec "$@")SH";

const char* const kExecKillScript = R"SH(sids=" $1 "
if [ -z "$1" ]; then
  # No pid known: the sessions of the execs still running (their first process has a parent
  # outside the container: ppid 0), this one and pid 1 aside.
  for p in /proc/[0-9]*; do
    [ "$p" = "/proc/$$" ] || [ "$p" = /proc/1 ] && continue
    read -r st 2>/dev/null <"$p/stat" || continue
    st=${st##*) }
    set -- $st
    [ "$2" = 0 ] && sids="$sids$4 "
  done
fi
for s in $sids; do kill -9 -- "-$s" 2>/dev/null; done
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do
  left=0
  for p in /proc/[0-9]*; do
    [ "$p" = "/proc/$$" ] && continue
    read -r st 2>/dev/null <"$p/stat" || continue
    st=${st##*) }
    set -- $st
    [ "$1" != Z ] && [[ "$sids" == *" $4 "* ]] || continue
    left=1
    kill -9 "${p#/proc/}" 2>/dev/null
  done
  [ "$left" = 0 ] && exit 0
  sleep 0.02
done
exit 1)SH";

const char* const kRelayStartScript =
    R"SH(exec 3< <(exec /.isol8/relay 8118 /.isol8/proxy.sock </dev/null 2>/dev/null)
IFS= read -r ready <&3
exec 3<&-
[ "$ready" = ready ] || { echo "isol8: the filtered network's relay did not start" >&2; exit 126; })SH";

namespace {

// The walk shared by both transfer scripts ($create = 1 makes missing directories).
constexpr const char* kTransferWalk = R"SH(p=$1
refuse() { printf '%s\n' "$*" >&2; exit 2; }
case $p in
  /sandbox/*) cur=/sandbox ;;
  /tmp/*) cur=/tmp ;;
  *) refuse "$p is not inside /sandbox or /tmp" ;;
esac
dir=${p%/*}
rest=${dir#"$cur"}
rest=${rest#/}
while [ -n "$rest" ]; do
  part=${rest%%/*}
  if [ "$part" = "$rest" ]; then rest=; else rest=${rest#*/}; fi
  case $part in ''|.|..) refuse "$p is not a normalised path" ;; esac
  cur=$cur/$part
  [ -L "$cur" ] && refuse "$cur is a symbolic link (file transfer never follows links)"
  if [ ! -e "$cur" ]; then
    [ "$create" = 1 ] || { echo "$p: No such file or directory" >&2; exit 4; }
    mkdir -m 0755 -- "$cur" 2>/dev/null || [ -d "$cur" ] && [ ! -L "$cur" ] ||
      { echo "cannot create the directory $cur" >&2; exit 3; }
  fi
  [ -d "$cur" ] || refuse "$cur is not a directory"
done
[ "$(readlink -f -- "$dir")" = "$dir" ] || refuse "$dir does not resolve to itself"
[ -L "$p" ] && refuse "$p is a symbolic link (file transfer never follows links)"
)SH";

constexpr const char* kPutTail = R"SH(
[ -e "$p" ] && [ ! -f "$p" ] && refuse "$p exists and is not a regular file"
tmp=$(mktemp -p "$dir" .isol8-put.XXXXXXXX) || exit 3
if dd of="$tmp" oflag=nofollow bs=64K status=none && chmod "$2" -- "$tmp" &&
   mv -f -T -- "$tmp" "$p"; then
  exit 0
fi
rm -f -- "$tmp"
exit 3)SH";

constexpr const char* kGetTail = R"SH(
[ -e "$p" ] || { echo "$p: No such file or directory" >&2; exit 4; }
[ -f "$p" ] || refuse "$p is not a regular file"
dd if="$p" iflag=nofollow,nonblock,count_bytes count=$(($2 + 1)) bs=64K status=none || exit 3)SH";

}  // namespace

std::string put_file_script() { return std::string("create=1\n") + kTransferWalk + kPutTail; }

std::string get_file_script() { return std::string("create=0\n") + kTransferWalk + kGetTail; }

}  // namespace isol8::docker
