#pragma once
// Imports a root filesystem from a tar stream (a file, a pipe, or the Docker Engine API's export
// stream) into the store with libarchive, refusing what could escape or smuggle privileges:
//   - absolute paths and ".." components;
//   - device nodes, fifos and sockets;
//   - entries whose path (or a hard link's target) passes through a symlink: nothing is ever
//     written through a symlink (ARCHIVE_EXTRACT_SECURE_* plus our own lstat walk);
//   - hard links to anything but a regular file already extracted;
//   - a /proc, /dev, /sandbox or /tmp that is not a plain directory (the sandbox mounts on them).
// setuid/setgid bits are cleared and no extended attributes (file capabilities), ACLs or flags
// are restored. As root, numeric uid/gid are kept from the tar: the sandbox's user namespace maps
// none of the ids 0..65535 of the host, so nothing in the root is owned by the sandbox user.
// Without root, files belong to the caller.
// Any refusal aborts the import: the store is left unchanged.

#include <sys/types.h>

#include <functional>
#include <string>

#include "isol8/result.h"
#include "rootfs/store.h"

namespace isol8::rootfs {

// Reads up to `size` bytes into `buf`: the count, 0 at the end of the stream, or an Error.
using TarReader = std::function<Result<size_t>(char* buf, size_t size)>;

struct ImportOptions {
  bool force = false;  // replace an existing root of that name
  Manifest manifest;   // name and runtime required; source is set to "import", created to now
};

// Reads the whole archive from `reader` (plain tar, or compressed with any filter libarchive
// knows) into a new root named options.manifest.name.
Result<StoredRoot> import_tar(const RootfsStore& store, const TarReader& reader,
                              const ImportOptions& options);
// The same from a file descriptor (not closed).
Result<StoredRoot> import_tar(const RootfsStore& store, int fd, const ImportOptions& options);

}  // namespace isol8::rootfs
