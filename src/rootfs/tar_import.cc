#include "rootfs/tar_import.h"
#include "common/iso_time.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <vector>

#include <fmt/format.h>

namespace isol8::rootfs {
namespace {

namespace fs = std::filesystem;

struct ArchiveReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ReadArchive = std::unique_ptr<archive, ArchiveReadDeleter>;
using WriteArchive = std::unique_ptr<archive, ArchiveWriteDeleter>;

struct ReadContext {
  const TarReader* reader = nullptr;
  std::vector<char> buf = std::vector<char>(1 << 16);
  std::optional<Error> error;
};

la_ssize_t read_callback(archive* a, void* opaque, const void** out) {
  auto* ctx = static_cast<ReadContext*>(opaque);
  auto n = (*ctx->reader)(ctx->buf.data(), ctx->buf.size());
  if (!n) {
    ctx->error = n.error();
    archive_set_error(a, EIO, "%s", n.error().message.c_str());
    return -1;
  }
  *out = ctx->buf.data();
  return static_cast<la_ssize_t>(*n);
}

// The entry's path split into components, without "." and empty ones; an error for absolute
// paths and "..".
Result<std::vector<std::string>> split_entry_path(const std::string& raw, std::string_view what) {
  if (raw.starts_with('/')) {
    return make_error(fmt::format("{} \"{}\" is an absolute path", what, raw));
  }
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= raw.size()) {
    size_t j = raw.find('/', i);
    if (j == std::string::npos) j = raw.size();
    std::string part = raw.substr(i, j - i);
    if (part == "..") return make_error(fmt::format("{} \"{}\" contains \"..\"", what, raw));
    if (!part.empty() && part != ".") parts.push_back(std::move(part));
    i = j + 1;
  }
  return parts;
}

std::string join(const std::vector<std::string>& parts, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) out += (i ? "/" : "") + parts[i];
  return out;
}

// Every existing directory on the way to `parts` must be a real directory, never a symlink: an
// archive may not place a file through a link it planted earlier.
Result<void> check_parents(const fs::path& root, const std::vector<std::string>& parts,
                           size_t count, const std::string& raw) {
  fs::path p = root;
  for (size_t i = 0; i < count; ++i) {
    p /= parts[i];
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) return ok();  // libarchive creates the rest as directories
      return errno_error("cannot inspect " + p.string());
    }
    if (S_ISLNK(st.st_mode)) {
      return make_error(fmt::format("The entry \"{}\" would be written through the symlink /{}",
                                    raw, join(parts, i + 1)));
    }
    if (!S_ISDIR(st.st_mode)) {
      return make_error(
          fmt::format("The entry \"{}\" needs /{} to be a directory", raw, join(parts, i + 1)));
    }
  }
  return ok();
}

const char* type_name(mode_t type) {
  switch (type) {
    case AE_IFCHR:
      return "a character device";
    case AE_IFBLK:
      return "a block device";
    case AE_IFIFO:
      return "a fifo";
    case AE_IFSOCK:
      return "a socket";
    default:
      return "of an unknown type";
  }
}

// Checks one entry and rewrites its paths under `root`. Returns false for entries to skip.
Result<bool> vet_entry(archive_entry* entry, const fs::path& root) {
  const char* raw_c = archive_entry_pathname(entry);
  const std::string raw = raw_c != nullptr ? raw_c : "";
  auto parts = split_entry_path(raw, "The entry");
  if (!parts) return std::move(parts).error();
  if (parts->empty()) return false;  // "./": the root itself, which we create

  const char* link = archive_entry_hardlink(entry);
  const mode_t type = archive_entry_filetype(entry);
  if (link == nullptr && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
    return make_error(fmt::format("The entry \"{}\" is {}, which a root filesystem may not hold",
                                  raw, type_name(type)));
  }
  ISOL8_TRY(check_parents(root, *parts, parts->size() - 1, raw));

  // An existing symlink at the final path is replaced, never followed.
  const fs::path target = root / join(*parts, parts->size());
  struct stat st;
  if (::lstat(target.c_str(), &st) == 0 && S_ISLNK(st.st_mode) && ::unlink(target.c_str()) != 0) {
    return errno_error("cannot replace the symlink " + target.string());
  }

  if (link != nullptr) {
    const std::string raw_link = link;
    auto link_parts = split_entry_path(raw_link, "The hard link target");
    if (!link_parts) return std::move(link_parts).error().context("entry \"" + raw + "\"");
    if (link_parts->empty()) {
      return make_error(fmt::format("The hard link \"{}\" points at the root directory", raw));
    }
    ISOL8_TRY(check_parents(root, *link_parts, link_parts->size() - 1, raw_link));
    const fs::path link_target = root / join(*link_parts, link_parts->size());
    if (::lstat(link_target.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return make_error(fmt::format(
          "The hard link \"{}\" points at \"{}\", which is not a regular file already in the "
          "archive",
          raw, raw_link));
    }
    archive_entry_set_hardlink(entry, link_target.c_str());
  }
  archive_entry_set_pathname(entry, target.c_str());
  // No setuid or setgid programs: the sandbox runs with no_new_privs anyway, but a root copied
  // elsewhere must not carry them either.
  archive_entry_set_perm(entry,
                         archive_entry_perm(entry) & ~static_cast<mode_t>(S_ISUID | S_ISGID));
  return true;
}

// The sandbox mounts /proc, /dev, /sandbox and /tmp over the root's own: they must be plain
// directories (a symlink there would redirect a mount).
Result<void> ensure_mount_points(const fs::path& root) {
  for (const char* dir : {"proc", "dev", "sandbox", "tmp"}) {
    const fs::path p = root / dir;
    struct stat st;
    if (::lstat(p.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) {
        return make_error(
            fmt::format("The archive's /{} is not a directory (the sandbox mounts on it)", dir));
      }
      continue;
    }
    if (::mkdir(p.c_str(), 0755) != 0) return errno_error("cannot create " + p.string());
    if (std::string_view(dir) == "tmp") ::chmod(p.c_str(), 01777);
  }
  return ok();
}

Result<void> extract(const TarReader& reader, const fs::path& root) {
  ReadArchive in(archive_read_new());
  WriteArchive out(archive_write_disk_new());
  if (!in || !out) return make_error("libarchive: out of memory");
  archive_read_support_format_tar(in.get());
  archive_read_support_format_gnutar(in.get());
  archive_read_support_filter_all(in.get());
  int flags = ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
              ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME;
  // Entries are rewritten to absolute paths under the (canonical) root after our own checks
  // refused absolute names, so ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS cannot be set here; the
  // alternative, chdir(), would change the whole process's directory.
  if (::geteuid() == 0) flags |= ARCHIVE_EXTRACT_OWNER;
  archive_write_disk_set_options(out.get(), flags);
  // No archive_write_disk_set_standard_lookup: ids stay numeric, as in the archive.

  ReadContext ctx;
  ctx.reader = &reader;
  if (archive_read_open(in.get(), &ctx, nullptr, read_callback, nullptr) != ARCHIVE_OK) {
    if (ctx.error) return *ctx.error;
    return make_error(fmt::format("Cannot read the archive: {}", archive_error_string(in.get())));
  }
  size_t entries = 0;
  for (;;) {
    archive_entry* entry = nullptr;
    const int r = archive_read_next_header(in.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (ctx.error) return *ctx.error;
      return make_error(fmt::format("Cannot read the archive (after {} entries): {}", entries,
                                    archive_error_string(in.get())));
    }
    ++entries;
    auto keep = vet_entry(entry, root);
    if (!keep) return std::move(keep).error();
    if (!*keep) continue;
    if (archive_write_header(out.get(), entry) < ARCHIVE_WARN) {
      return make_error(fmt::format("Cannot extract \"{}\": {}", archive_entry_pathname(entry),
                                    archive_error_string(out.get())));
    }
    if (archive_entry_size(entry) > 0) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      for (;;) {
        const int rb = archive_read_data_block(in.get(), &block, &size, &offset);
        if (rb == ARCHIVE_EOF) break;
        if (rb < ARCHIVE_WARN) {
          if (ctx.error) return *ctx.error;
          return make_error(
              fmt::format("Cannot read the archive: {}", archive_error_string(in.get())));
        }
        if (archive_write_data_block(out.get(), block, size, offset) < ARCHIVE_WARN) {
          return make_error(fmt::format("Cannot extract \"{}\": {}", archive_entry_pathname(entry),
                                        archive_error_string(out.get())));
        }
      }
    }
    if (archive_write_finish_entry(out.get()) < ARCHIVE_WARN) {
      return make_error(fmt::format("Cannot extract \"{}\": {}", archive_entry_pathname(entry),
                                    archive_error_string(out.get())));
    }
  }
  if (archive_write_close(out.get()) < ARCHIVE_WARN) {
    return make_error(
        fmt::format("Cannot finish the extraction: {}", archive_error_string(out.get())));
  }
  if (entries == 0) return make_error("The archive is empty");
  return ok();
}

}  // namespace

Result<StoredRoot> import_tar(const RootfsStore& store, const TarReader& reader,
                              const ImportOptions& options) {
  Manifest manifest = options.manifest;
  ISOL8_TRY(validate_root_name(manifest.name));
  if (manifest.runtime.empty()) return make_error("An imported root needs a runtime");
  manifest.source = "import";
  manifest.created = iso_timestamp_now();

  auto lock = store.lock_for_writing();
  if (!lock) return std::move(lock).error();
  ISOL8_TRY(store.reclaim());
  if (!options.force && store.find(manifest.name)) {
    return make_error(fmt::format("The image {} already exists in {} (use --force to replace it)",
                                  manifest.name, store.path().string()));
  }
  auto pending = store.begin(manifest.name);
  if (!pending) return std::move(pending).error();
  std::error_code ec;
  const fs::path root = fs::canonical(pending->dir(), ec);
  if (ec)
    return make_error(fmt::format("cannot resolve {}: {}", pending->dir().string(), ec.message()));
  if (auto done = extract(reader, root); !done) {
    return std::move(done).error().context("Import of " + manifest.name + " refused");
  }
  ISOL8_TRY(ensure_mount_points(root));
  ::chmod(root.c_str(), 0755);
  return store.commit(std::move(*pending), manifest, options.force);
}

Result<StoredRoot> import_tar(const RootfsStore& store, int fd, const ImportOptions& options) {
  TarReader reader = [fd](char* buf, size_t size) -> Result<size_t> {
    for (;;) {
      const ssize_t n = ::read(fd, buf, size);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return errno_error("cannot read the archive");
    }
  };
  return import_tar(store, reader, options);
}

}  // namespace isol8::rootfs
