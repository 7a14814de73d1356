#include "rootfs/store.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "common/fs_util.h"
#include "core/run_preparation.h"
#include "rootfs/selection.h"
#include "support/fake_backend.h"
#include "support/files.h"

namespace isol8::rootfs {
namespace {

namespace fs = std::filesystem;

Manifest sample(std::string name = "isol8:python") {
  Manifest m;
  m.name = std::move(name);
  m.runtime = "python";
  m.versions = {{"python", "3.11.2"}, {"debian", "12.15"}};
  m.packages = {"numpy", "requests"};
  m.setup = "echo one\necho two";
  m.recipe_hash = "abc123";
  m.base = "debian:bookworm";
  m.created = "2026-11-26T12:00:00Z";
  m.source = "recipe";
  return m;
}

void put(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string get(const fs::path& p) {
  auto text = read_file(p);
  return text ? *text : "<missing>";
}

std::set<std::string> entries(const fs::path& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.insert(e.path().filename().string());
  return out;
}

// A pid that certainly belongs to no process: a child that has been reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) _exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

TEST(RootfsManifest, RoundTripsThroughJson) {
  const Manifest m = sample();
  auto back = manifest_from_json(to_json(m));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->name, m.name);
  EXPECT_EQ(back->runtime, m.runtime);
  EXPECT_EQ(back->versions, m.versions);
  EXPECT_EQ(back->packages, m.packages);
  EXPECT_EQ(back->setup, m.setup);
  EXPECT_EQ(back->recipe_hash, m.recipe_hash);
  EXPECT_EQ(back->base, m.base);
  EXPECT_EQ(back->created, m.created);
  EXPECT_EQ(back->source, m.source);
  EXPECT_EQ(to_json(m)["recipeHash"], "abc123");
}

TEST(RootfsManifest, RejectsMissingOrMistypedFieldsByName) {
  auto j = to_json(sample());
  j.erase("runtime");
  auto r = manifest_from_json(j);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("\"runtime\""), std::string::npos) << r.error().message;
  j = to_json(sample());
  j["packages"] = "numpy";
  r = manifest_from_json(j);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("\"packages\""), std::string::npos) << r.error().message;
  j = to_json(sample());
  j["source"] = "magic";
  EXPECT_FALSE(manifest_from_json(j));
  EXPECT_FALSE(manifest_from_json(nlohmann::json::array()));
}

// What doctor and --debug print about a root: the runtime's own version first, the base last,
// then baked-in packages.
TEST(RootfsManifest, DescribesContentsRuntimeFirst) {
  Manifest m;
  m.runtime = "node";
  m.versions = {{"bash", "5.2.15"}, {"debian", "12.15"}, {"node", "22.23.5"}, {"npm", "10.9.9"}};
  EXPECT_EQ(describe_contents(m), "node 22.23.5, npm 10.9.9, bash 5.2.15, debian 12.15");
  m.packages = {"is-number", "lodash"};
  EXPECT_EQ(describe_contents(m),
            "node 22.23.5, npm 10.9.9, bash 5.2.15, debian 12.15; packages: is-number, lodash");
  m.runtime = "bash";
  m.versions = {{"bash", "5.2.15"}, {"debian", "12.15"}};
  m.packages.clear();
  EXPECT_EQ(describe_contents(m), "bash 5.2.15, debian 12.15");
  EXPECT_EQ(describe_contents(Manifest{}), "versions not recorded");
}

TEST(RootfsNames, ValidatesTagsAndPackages) {
  for (const char* good : {"isol8:python", "my-python-ml", "a", "v1.2_x"}) {
    EXPECT_TRUE(validate_root_name(good)) << good;
  }
  for (const char* bad : {"", ".hidden", "../x", "a/b", "-x", "logs", "x.json", "a b", "é"}) {
    auto r = validate_root_name(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message.rfind(std::string("Invalid image tag: \"") + bad + "\"", 0), 0u)
        << r.error().message;
  }
  EXPECT_FALSE(validate_root_name(std::string(129, 'a')));
  EXPECT_TRUE(validate_root_name(std::string(128, 'a')));
  // Long input is judged, not a crash (std::regex recursed once per character).
  EXPECT_FALSE(validate_root_name(std::string(200000, 'a')));
  EXPECT_TRUE(validate_package_name(std::string(200000, 'a')));
  EXPECT_FALSE(validate_package_name(std::string(200000, 'a') + " "));
  for (const char* good : {"numpy", "numpy==1.26.0", "@scope/pkg", "is-number", "a_b.c"}) {
    EXPECT_TRUE(validate_package_name(good)) << good;
  }
  for (const char* bad : {"", "a b", "x;rm -rf /", "$(id)", "pkg'", "--index-url=http://x"}) {
    auto r = validate_package_name(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message, std::string("Invalid package name: \"") + bad +
                                     "\". Only alphanumeric, -, _, ., /, @, and = are allowed.");
  }
}

TEST(RootfsStore, DefaultPathFollowsTheEnvironment) {
  // Restored at the end: the tier's own value keeps later tests of this process off the
  // machine's store.
  const char* tier_value = std::getenv("ISOL8_ROOTFS_STORE");
  const bool had_value = tier_value != nullptr;
  const std::string saved = had_value ? tier_value : "";
  ::setenv("ISOL8_ROOTFS_STORE", "/srv/roots", 1);
  EXPECT_EQ(default_store_path(), fs::path("/srv/roots"));
  EXPECT_EQ(resolve_store_path("/configured"), fs::path("/configured"));
  ::unsetenv("ISOL8_ROOTFS_STORE");
  if (::geteuid() == 0) {
    EXPECT_EQ(default_store_path(), fs::path("/var/lib/isol8/rootfs"));
  } else {
    EXPECT_TRUE(default_store_path().string().ends_with("isol8/rootfs"));
  }
  EXPECT_EQ(resolve_store_path(""), default_store_path());
  if (had_value) ::setenv("ISOL8_ROOTFS_STORE", saved.c_str(), 1);
}

TEST(RootfsStore, MissingStoreIsEmptyAndRelativePathsAreRefused) {
  auto store = RootfsStore::open("/nonexistent/isol8-store");
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->list().empty());
  EXPECT_FALSE(store->find("isol8:python"));
  EXPECT_FALSE(RootfsStore::open("relative/store"));
}

TEST(RootfsStore, CommitPutsTheRootInPlaceWithItsManifestLast) {
  test::TempDir tmp{"isol8-rootfs-unit"};
  auto store = RootfsStore::open(tmp.path(), true);
  ASSERT_TRUE(store) << store.error().message;
  auto pending = store->begin("isol8:python");
  ASSERT_TRUE(pending) << pending.error().message;
  const fs::path build_dir = pending->dir();
  EXPECT_TRUE(build_dir.filename().string().starts_with(".build-isol8:python-"));
  put(build_dir / "usr/bin/marker", "new");
  auto committed = store->commit(std::move(*pending), sample(), false);
  ASSERT_TRUE(committed) << committed.error().message;
  EXPECT_EQ(committed->dir, tmp / "isol8:python");
  EXPECT_EQ(get(tmp / "isol8:python/usr/bin/marker"), "new");
  EXPECT_FALSE(fs::exists(build_dir));
  auto found = store->find("isol8:python");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->manifest.versions.at("python"), "3.11.2");
  ASSERT_EQ(store->list().size(), 1u);
  EXPECT_EQ(entries(tmp.path()),
            (std::set<std::string>{"isol8:python", "isol8:python.json", "logs"}));
}

TEST(RootfsStore, ExistingRootIsKeptWithoutReplaceAndSwappedWithIt) {
  test::TempDir tmp{"isol8-rootfs-unit"};
  auto store = RootfsStore::open(tmp.path(), true);
  ASSERT_TRUE(store);
  {
    auto p = store->begin("isol8:python");
    ASSERT_TRUE(p);
    put(p->dir() / "version", "old");
    ASSERT_TRUE(store->commit(std::move(*p), sample(), false));
  }
  {
    auto p = store->begin("isol8:python");
    ASSERT_TRUE(p);
    put(p->dir() / "version", "new");
    auto again = store->commit(std::move(*p), sample(), false);
    ASSERT_FALSE(again);
    EXPECT_NE(again.error().message.find("already exists"), std::string::npos);
  }
  // Refused: the old root is untouched and the build directory is gone.
  EXPECT_EQ(get(tmp / "isol8:python/version"), "old");
  EXPECT_EQ(entries(tmp.path()),
            (std::set<std::string>{"isol8:python", "isol8:python.json", "logs"}));
  {
    auto p = store->begin("isol8:python");
    ASSERT_TRUE(p);
    put(p->dir() / "version", "new");
    Manifest m = sample();
    m.recipe_hash = "def456";
    auto replaced = store->commit(std::move(*p), m, true);
    ASSERT_TRUE(replaced) << replaced.error().message;
  }
  EXPECT_EQ(get(tmp / "isol8:python/version"), "new");
  EXPECT_EQ(store->find("isol8:python")->manifest.recipe_hash, "def456");
  // The old root was deleted: nothing but the new root, its manifest and the log dir remain.
  EXPECT_EQ(entries(tmp.path()),
            (std::set<std::string>{"isol8:python", "isol8:python.json", "logs"}));
}

TEST(RootfsStore, AbandonedBuildIsRemovedWhenItsOwnerGoesAway) {
  test::TempDir tmp{"isol8-rootfs-unit"};
  auto store = RootfsStore::open(tmp.path(), true);
  ASSERT_TRUE(store);
  fs::path dir;
  {
    auto p = store->begin("isol8:node");
    ASSERT_TRUE(p);
    dir = p->dir();
    put(dir / "half", "x");
  }
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_FALSE(store->find("isol8:node"));
}

TEST(RootfsStore, IncompleteRootsAreIgnoredAndReclaimed) {
  test::TempDir tmp{"isol8-rootfs-unit"};
  auto store = RootfsStore::open(tmp.path(), true);
  ASSERT_TRUE(store);
  // A root without a manifest (a crash between the rename and the manifest).
  put(tmp / "isol8:bash/bin/bash", "x");
  // A manifest naming another root.
  put(tmp / "other/x", "x");
  put(tmp / "other.json", to_json(sample("isol8:python")).dump());
  // A corrupt manifest.
  put(tmp / "broken/x", "x");
  put(tmp / "broken.json", "{not json");
  // A manifest whose root is gone.
  put(tmp / "ghost.json", to_json(sample("ghost")).dump());
  // Builds of a dead writer and of a live one (this process).
  const pid_t dead = dead_pid();
  put(tmp / (".build-isol8:deno-" + std::to_string(dead)) / "x", "x");
  put(tmp / (".build-isol8:deno-" + std::to_string(dead) + ".json"), "{}");
  put(tmp / (".build-isol8:deno-" + std::to_string(dead) + ".versions"), "a=b");
  put(tmp / (".build-isol8:bun-" + std::to_string(::getpid())) / "x", "x");

  EXPECT_FALSE(store->find("isol8:bash"));
  EXPECT_FALSE(store->find("other"));
  EXPECT_FALSE(store->find("broken"));
  EXPECT_FALSE(store->find("ghost"));
  EXPECT_TRUE(store->list().empty());

  ASSERT_TRUE(store->reclaim());
  EXPECT_EQ(entries(tmp.path()),
            (std::set<std::string>{"logs", "other", "other.json", "broken", "broken.json",
                                   ".build-isol8:bun-" + std::to_string(::getpid())}));
}

TEST(RootfsStore, RemoveDeletesManifestAndRoot) {
  test::TempDir tmp{"isol8-rootfs-unit"};
  auto store = RootfsStore::open(tmp.path(), true);
  ASSERT_TRUE(store);
  auto p = store->begin("mine");
  ASSERT_TRUE(p);
  put(p->dir() / "x", "x");
  ASSERT_TRUE(store->commit(std::move(*p), sample("mine"), false));
  ASSERT_TRUE(store->remove("mine"));
  EXPECT_EQ(entries(tmp.path()), (std::set<std::string>{"logs"}));
  auto again = store->remove("mine");
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("No image mine"), std::string::npos);
  EXPECT_FALSE(store->remove("../etc"));
}

TEST(RootfsSelection, PicksNativeRootDirThenImageThenRuntimeRootThenHost) {
  test::TempDir tmp{"isol8-rootfs-unit"};
  auto store = RootfsStore::open(tmp.path(), true);
  ASSERT_TRUE(store);
  for (const char* name : {"isol8:python", "custom"}) {
    auto p = store->begin(name);
    ASSERT_TRUE(p);
    Manifest m = sample(name);
    m.setup = std::string("echo from ") + name;
    ASSERT_TRUE(store->commit(std::move(*p), m, false));
  }
  Options o;
  o.rootfs_store = tmp.path();

  auto sel = select_root(o, "python");
  ASSERT_TRUE(sel) << sel.error().message;
  EXPECT_EQ(sel->root_dir, (tmp / "isol8:python").string());
  EXPECT_EQ(sel->image, "isol8:python");
  EXPECT_EQ(sel->image_setup, "echo from isol8:python");

  sel = select_root(o, "node");  // not in the store: the host
  ASSERT_TRUE(sel);
  EXPECT_EQ(sel->root_dir, "");
  EXPECT_EQ(sel->image, "");

  o.image = "custom";
  sel = select_root(o, "node");
  ASSERT_TRUE(sel);
  EXPECT_EQ(sel->root_dir, (tmp / "custom").string());
  EXPECT_EQ(sel->image_setup, "echo from custom");

  o.image = "missing-tag";
  sel = select_root(o, "python");
  ASSERT_FALSE(sel);
  EXPECT_NE(
      sel.error().message.find("Image missing-tag not found in the rootfs store " + tmp.path()),
      std::string::npos)
      << sel.error().message;
  EXPECT_NE(sel.error().message.find("isol8 setup"), std::string::npos);
  EXPECT_NE(sel.error().message.find("isol8 build"), std::string::npos);

  o.image = "../escape";
  EXPECT_FALSE(select_root(o, "python"));

  Options docker = o;
  docker.backend = BackendKind::kDocker;
  docker.image = "";
  sel = select_root(docker, "node");
  ASSERT_TRUE(sel);
  EXPECT_EQ(sel->image, "isol8:node");
  EXPECT_EQ(sel->root_dir, "");
  docker.image = "my-docker-image";
  sel = select_root(docker, "node");
  ASSERT_TRUE(sel) << "a Docker image need not be in the rootfs store";
  EXPECT_EQ(sel->image, "my-docker-image");

  o.native.root_dir = "/srv/explicit";  // wins over everything
  sel = select_root(o, "python");
  ASSERT_TRUE(sel);
  EXPECT_EQ(sel->root_dir, "/srv/explicit");
  EXPECT_EQ(sel->image, "");
}

TEST(RootfsSelection, ImageSetupRunsBeforeTheRequests) {
  EXPECT_EQ(compose_setup_script("a", "b"), "a\nb");
  EXPECT_EQ(compose_setup_script("", "b"), "b");
  EXPECT_EQ(compose_setup_script("a", ""), "a");
  EXPECT_EQ(compose_setup_script("", ""), "");
}

TEST(RootfsSelection, PrepareRunUsesTheStoreRootAndComposesSetup) {
  test::TempDir tmp{"isol8-rootfs-unit"};
  auto store = RootfsStore::open(tmp.path(), true);
  ASSERT_TRUE(store);
  auto p = store->begin("isol8:bash");
  ASSERT_TRUE(p);
  Manifest m = sample("isol8:bash");
  m.runtime = "bash";
  m.setup = "export FROM_IMAGE=1";
  ASSERT_TRUE(store->commit(std::move(*p), m, false));

  Options o;
  o.rootfs_store = tmp.path();
  ExecutionRequest r;
  r.runtime = "bash";
  r.cmd = "true";
  r.setup_script = "echo request";
  test::FakeBackend backend;  // every interpreter, in any root
  auto run = prepare_run(r, o, backend);
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->spec.root_dir, (tmp / "isol8:bash").string());
  EXPECT_EQ(run->spec.image, "isol8:bash");
  EXPECT_EQ(run->spec.setup_script, "export FROM_IMAGE=1\necho request");
  ASSERT_FALSE(backend.queried_roots().empty());
  EXPECT_EQ(backend.queried_roots().back(), (tmp / "isol8:bash").string());

  o.image = "nope";
  auto missing = prepare_run(r, o, backend);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("Image nope not found"), std::string::npos);
}

}  // namespace
}  // namespace isol8::rootfs
