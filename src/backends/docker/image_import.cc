#include "backends/docker/image_import.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace isol8::docker {
namespace fs = std::filesystem;

namespace {

struct ReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};

struct WriteContext {
  const ChunkWriter* write;
  std::string buffer;
  Error error;
  bool failed = false;
};

la_ssize_t write_cb(archive*, void* client, const void* data, size_t length) {
  auto* ctx = static_cast<WriteContext*>(client);
  ctx->buffer.append(static_cast<const char*>(data), length);
  if (ctx->buffer.size() >= 256 * 1024) {
    auto r = (*ctx->write)(ctx->buffer);
    ctx->buffer.clear();
    if (!r) {
      ctx->error = std::move(r).error();
      ctx->failed = true;
      return -1;
    }
  }
  return static_cast<la_ssize_t>(length);
}

int close_cb(archive*, void* client) {
  auto* ctx = static_cast<WriteContext*>(client);
  if (!ctx->failed && !ctx->buffer.empty()) {
    auto r = (*ctx->write)(ctx->buffer);
    ctx->buffer.clear();
    if (!r) {
      ctx->error = std::move(r).error();
      ctx->failed = true;
      return ARCHIVE_FATAL;
    }
  }
  return ARCHIVE_OK;
}

}  // namespace

fs::path default_rootfs_store(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (const char* env = std::getenv("ISOL8_ROOTFS_STORE"); env != nullptr && *env != '\0') {
    return env;
  }
  if (::geteuid() == 0) return "/var/lib/isol8/rootfs";
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr ? home : "/") / ".local/share/isol8/rootfs";
}

Result<void> stream_directory_tar(const fs::path& root, const ChunkWriter& write) {
  // Declared first: archive_write_free() (in `out`'s destructor) may still flush through it.
  WriteContext ctx{&write, {}, {}, false};
  std::unique_ptr<archive, ReadDeleter> disk(archive_read_disk_new());
  std::unique_ptr<archive, WriteDeleter> out(archive_write_new());
  if (!disk || !out) return make_error("libarchive: out of memory");
  // Archive symlinks as symlinks (never follow them out of the root); owners stay numeric
  // (no name lookup is installed).
  archive_read_disk_set_symlink_physical(disk.get());
  archive_read_disk_set_behavior(disk.get(),
                                 ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS | ARCHIVE_READDISK_NO_XATTR);
  archive_write_set_format_pax_restricted(out.get());
  // File names are bytes: store them as they are, whatever the locale (no UTF-8 translation).
  archive_write_set_format_option(out.get(), "pax", "hdrcharset", "BINARY");
  if (archive_write_open(out.get(), &ctx, nullptr, write_cb, close_cb) != ARCHIVE_OK) {
    return make_error(fmt::format("libarchive: {}", archive_error_string(out.get())));
  }
  // The root itself may be reached through a symlink; nothing below it is followed.
  std::error_code ec;
  const std::string base = fs::canonical(root, ec).string();
  if (ec) return make_error(fmt::format("Cannot read {}: {}", root.string(), ec.message()));
  size_t entries = 0;
  if (archive_read_disk_open(disk.get(), base.c_str()) != ARCHIVE_OK) {
    return make_error(fmt::format("Cannot read {}: {}", base, archive_error_string(disk.get())));
  }
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> entry(archive_entry_new(),
                                                                 archive_entry_free);
  std::vector<char> buf(256 * 1024);
  for (;;) {
    archive_entry_clear(entry.get());
    const int r = archive_read_next_header2(disk.get(), entry.get());
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return make_error(fmt::format("Reading {}: {}", base, archive_error_string(disk.get())));
    }
    archive_read_disk_descend(disk.get());
    std::string path = archive_entry_pathname(entry.get());
    if (!path.starts_with(base)) continue;
    std::string rel = path.substr(base.size());
    while (rel.starts_with("/")) rel.erase(0, 1);
    if (rel.empty()) continue;  // the root itself
    archive_entry_set_pathname(entry.get(), rel.c_str());
    ++entries;
    // Hard links would need a link resolver; storing them as separate files is correct, only
    // larger.
    archive_entry_set_nlink(entry.get(), 1);
    if (archive_write_header(out.get(), entry.get()) != ARCHIVE_OK) {
      if (ctx.failed) return ctx.error;
      return make_error(fmt::format("Archiving {}: {}", rel, archive_error_string(out.get())));
    }
    if (archive_entry_filetype(entry.get()) == AE_IFREG && archive_entry_size(entry.get()) > 0) {
      for (;;) {
        const la_ssize_t n = archive_read_data(disk.get(), buf.data(), buf.size());
        if (n == 0) break;
        if (n < 0) {
          return make_error(fmt::format("Reading {}: {}", rel, archive_error_string(disk.get())));
        }
        if (archive_write_data(out.get(), buf.data(), static_cast<size_t>(n)) < 0) {
          if (ctx.failed) return ctx.error;
          return make_error(fmt::format("Archiving {}: {}", rel, archive_error_string(out.get())));
        }
      }
    }
  }
  if (entries == 0) return make_error(fmt::format("{} is empty", base));
  if (archive_write_close(out.get()) != ARCHIVE_OK) {
    if (ctx.failed) return ctx.error;
    return make_error(fmt::format("libarchive: {}", archive_error_string(out.get())));
  }
  if (ctx.failed) return ctx.error;
  return ok();
}

std::string to_hex(std::string_view data) {
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char c : data) out += fmt::format("{:02x}", c);
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
    if (ec != std::errc() || end != hex.data() + i + 2) return std::nullopt;
    out += static_cast<char>(value);
  }
  return out;
}

bool root_supports_backstop(const fs::path& root) {
  auto has = [&](const char* name) {
    std::error_code ec;
    return fs::exists(root / "usr/bin" / name, ec) || fs::exists(root / "bin" / name, ec);
  };
  return has("bash") && has("sleep");
}

Result<std::string> import_root_as_image(DockerClient& client, const fs::path& root,
                                         const std::string& repo, const std::string& tag,
                                         const std::string& runtime, const RootLabels& labels) {
  std::vector<std::string> changes = {
      fmt::format("LABEL org.isol8.runtime={}", runtime),
      fmt::format("LABEL org.isol8.source={}", root.string()),
      "LABEL isol8.managed=true",
      "WORKDIR /sandbox",
  };
  if (!labels.setup.empty()) {
    changes.push_back(fmt::format("LABEL {}={}", kSetupLabel, to_hex(labels.setup)));
  }
  if (!labels.build_hash.empty()) {
    changes.push_back(fmt::format("LABEL {}={}", kBuildHashLabel, labels.build_hash));
  }
  if (!labels.packages.empty()) {
    // Package names have no spaces or quotes (validate_package_name).
    changes.push_back(
        fmt::format("LABEL {}={}", kDependenciesLabel, fmt::join(labels.packages, ",")));
  }
  if (root_supports_backstop(root)) changes.push_back(fmt::format("LABEL {}=1", kBackstopLabel));
  return client.import_image(repo, tag, changes, [&](const ChunkWriter& write) {
    return stream_directory_tar(root, write);
  });
}

Result<std::vector<ImportedImage>> import_store_roots_to_docker(
    DockerClient& client, const fs::path& store, const std::vector<std::string>& names,
    const std::function<void(const std::string&)>& progress) {
  std::vector<std::string> selected = names;
  if (selected.empty()) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(store, ec)) {
      if (!entry.is_directory()) continue;
      const auto name = entry.path().filename().string();
      // A root is a directory with a manifest next to it.
      if (fs::exists(store / (name + ".json"))) selected.push_back(name);
    }
    if (ec) {
      return make_error(
          fmt::format("Cannot read the rootfs store {}: {}", store.string(), ec.message()));
    }
    std::sort(selected.begin(), selected.end());
  }
  if (selected.empty()) {
    return make_error(fmt::format(
        "The rootfs store {} holds no runtime roots; build them first with `isol8 setup`",
        store.string()));
  }
  std::vector<ImportedImage> out;
  for (const auto& name : selected) {
    const fs::path root = store / name;
    if (!fs::is_directory(root)) {
      return make_error(fmt::format("{} is not a directory", root.string()));
    }
    auto id = import_root_as_image(client, root, "isol8", name, name);
    if (!id) return std::move(id).error().context("importing " + root.string());
    if (progress) progress(fmt::format("[OK] isol8:{} ({})", name, id->substr(0, 19)));
    out.push_back({name, "isol8:" + name, *id});
  }
  return out;
}

}  // namespace isol8::docker
