#pragma once
// The bash scripts a persistent session runs in its container (session.h). Each runs as an exec
// with its arguments in argv ($1...), never with data in argv: file contents travel on stdin and
// stdout.

#include <string>

namespace isol8::docker {

// Every execution's first process (as the sandbox user): prints "isol8-pid:<its pid>\n" on stdout
// and execs its arguments, which keep the pid. A Docker exec's process is the leader of a session
// of its own (runc calls setsid), so that pid is also the session id of everything the execution
// starts, which is what kExecKillScript kills.
extern const char* const kPidPrelude;

// $1 = a session id: SIGKILLs its process group and every process of that session (as the
// sandbox user, so it reaches uid-100 processes only), until none is left (zombies aside); exits 1
// when some survived half a second of trying. $1 empty (the execution was ended before its
// prelude spoke): the sessions of every exec still running (a process whose parent is outside
// the container, ppid 0, other than pid 1 and the script itself), which in a session whose
// executions are serialized is the execution's. A process that left the session (setsid, as a
// daemon does) is not an execution's any more and survives.
extern const char* const kExecKillScript;

// As kIdleUser: starts the filtered network's relay on 127.0.0.1:8118 (the container's own
// loopback), in the background for the whole session, and waits for its "ready" line. Not the
// sandbox user's process, so that its `kill -9 -1` cannot end the session's network.
extern const char* const kRelayStartScript;

// The script of put_file: $1 = path, $2 = mode (octal): stdin becomes the file, as the sandbox
// user. Every directory between /sandbox or /tmp and the file is walked: a symbolic link, or
// anything that is not a directory, is refused (exit 2, the reason on stderr); a missing one is
// created (0755, by the sandbox user). The final name must not be a symbolic link or anything but a
// regular file. The bytes go to a new file made next to it with mktemp and opened O_NOFOLLOW, which
// then gets `mode` and is renamed over the name (rename replaces a link planted meanwhile instead
// of following it). Exit 3: the write failed (stderr says why).
std::string put_file_script();

// The script of get_file: $1 = path, $2 = max bytes: the file's bytes on stdout, at most max + 1 of
// them (the runner refuses more), as the sandbox user. The same walk as kPutFileScript without
// creating anything; exit 4 when the file does not exist, 2 when refused, 3 when reading failed.
// Opened with O_NOFOLLOW | O_NONBLOCK, so that neither a link nor a FIFO swapped in after the
// checks is followed or blocks.
std::string get_file_script();

}  // namespace isol8::docker
