#include "isol8/config.h"
#include "support/files.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace isol8 {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// A temporary working directory and home directory, each empty at the start.
class LoadConfigTest : public ::testing::Test {
 protected:
  fs::path cwd_file() const { return cwd_ / "isol8.config.json"; }
  fs::path home_file() const { return home_ / ".isol8" / "config.json"; }
  Result<LoadedConfig> load() const { return load_config(cwd_.path(), home_.path()); }

  test::TempDir cwd_{"isol8-config-test"};
  test::TempDir home_{"isol8-config-test"};
};

// ---------------------------------------------------------------------------------------------
// Defaults

TEST(ConfigDefaults, JsonHasUpstreamDefaults) {
  const json d = default_config();
  EXPECT_EQ(d["defaults"]["timeoutMs"], 30000);
  EXPECT_EQ(d["defaults"]["memoryLimit"], "512m");
  EXPECT_EQ(d["defaults"]["cpuLimit"], 1.0);
  EXPECT_EQ(d["defaults"]["network"], "none");
  EXPECT_EQ(d["defaults"]["sandboxSize"], "512m");
  EXPECT_EQ(d["defaults"]["tmpSize"], "256m");
  EXPECT_EQ(d["backend"], "native");
  EXPECT_EQ(d["network"]["whitelist"], json::array());
  EXPECT_EQ(d["network"]["blacklist"], json::array());
  EXPECT_EQ(d["cleanup"]["autoPrune"], true);
  EXPECT_EQ(d["cleanup"]["maxContainerAgeMs"], 3600000);
  EXPECT_EQ(d["maxConcurrent"], 10);
  EXPECT_EQ(d["debug"], false);
}

TEST(ConfigDefaults, OptionsFromDefaultsMatchTheOptionsStruct) {
  auto o = options_from_config(default_config());
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->timeout_ms, 30000);
  EXPECT_EQ(o->memory_limit_bytes, 512ull << 20);
  EXPECT_DOUBLE_EQ(o->cpu_limit, 1.0);
  EXPECT_EQ(o->network, NetworkMode::kNone);
  EXPECT_EQ(o->sandbox_size_bytes, 512ull << 20);
  EXPECT_EQ(o->tmp_size_bytes, 256ull << 20);
  EXPECT_EQ(o->backend, BackendKind::kNative);
  EXPECT_FALSE(o->debug);
  EXPECT_EQ(o->native.root_dir, "");
  EXPECT_EQ(o->native.id_map_base, 1000000u);
  EXPECT_EQ(o->native.hostname, "isol8");
}

TEST(ConfigDefaults, DefaultsPassTheirOwnValidation) {
  auto merged = merge_config(default_config(), default_config(), "defaults");
  ASSERT_TRUE(merged) << merged.error().message;
  EXPECT_EQ(*merged, default_config());
}

// ---------------------------------------------------------------------------------------------
// Finding the file

TEST_F(LoadConfigTest, NoFileGivesTheDefaultsAndNoSource) {
  auto c = load();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->source.has_value());
  EXPECT_EQ(c->json, default_config());
}

TEST_F(LoadConfigTest, NoHomeDirectoryIsFine) {
  auto c = load_config(cwd_.path(), std::nullopt);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->source.has_value());
}

TEST_F(LoadConfigTest, HomeFileIsUsedWhenTheWorkingDirectoryHasNone) {
  write(home_file(), R"({"defaults": {"timeoutMs": 5000}})");
  auto c = load();
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_TRUE(c->source.has_value());
  EXPECT_EQ(*c->source, home_file());
  EXPECT_EQ(c->json["defaults"]["timeoutMs"], 5000);
}

TEST_F(LoadConfigTest, WorkingDirectoryFileWinsOverHomeFile) {
  write(cwd_file(), R"({"defaults": {"timeoutMs": 1111}})");
  write(home_file(), R"({"defaults": {"timeoutMs": 2222}})");
  auto c = load();
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_TRUE(c->source.has_value());
  EXPECT_EQ(*c->source, cwd_file());
  EXPECT_EQ(c->json["defaults"]["timeoutMs"], 1111);
}

TEST_F(LoadConfigTest, FilesAreNotMergedWithEachOther) {
  // The home file sets keys the working-directory file does not: they must not leak in.
  write(cwd_file(), R"({"debug": true})");
  write(home_file(), R"({"defaults": {"memoryLimit": "1g"}, "maxConcurrent": 3})");
  auto c = load();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->json["debug"], true);
  EXPECT_EQ(c->json["defaults"]["memoryLimit"], "512m");
  EXPECT_EQ(c->json["maxConcurrent"], 10);
}

TEST_F(LoadConfigTest, InvalidWorkingDirectoryFileIsAnErrorEvenWithAValidHomeFile) {
  write(cwd_file(), "{ nope");
  write(home_file(), R"({"debug": true})");
  auto c = load();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find(cwd_file().string()), std::string::npos) << c.error().message;
}

TEST_F(LoadConfigTest, DirectoryNamedLikeTheConfigIsSkipped) {
  fs::create_directories(cwd_file());
  write(home_file(), R"({"debug": true})");
  auto c = load();
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_TRUE(c->source.has_value());
  EXPECT_EQ(*c->source, home_file());
}

// ---------------------------------------------------------------------------------------------
// Merging

TEST_F(LoadConfigTest, PartialDefaultsSectionKeepsTheOtherDefaults) {
  write(cwd_file(), R"({"defaults": {"timeoutMs": 1000}})");
  auto c = load();
  ASSERT_TRUE(c) << c.error().message;
  const json& d = c->json["defaults"];
  EXPECT_EQ(d["timeoutMs"], 1000);
  EXPECT_EQ(d["memoryLimit"], "512m");
  EXPECT_EQ(d["cpuLimit"], 1.0);
  EXPECT_EQ(d["network"], "none");
  EXPECT_EQ(d["sandboxSize"], "512m");
  EXPECT_EQ(d["tmpSize"], "256m");
  EXPECT_EQ(c->json["cleanup"]["autoPrune"], true);
}

TEST_F(LoadConfigTest, PartialNestedSectionKeepsSiblingKeys) {
  write(cwd_file(), R"({"cleanup": {"autoPrune": false}})");
  auto c = load();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->json["cleanup"]["autoPrune"], false);
  EXPECT_EQ(c->json["cleanup"]["maxContainerAgeMs"], 3600000);
}

TEST_F(LoadConfigTest, ArraysReplaceInsteadOfAppending) {
  write(cwd_file(), R"({"remoteCode": {"allowedSchemes": ["http"], "blockedHosts": []},
                        "network": {"whitelist": ["example.com"]}})");
  auto c = load();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->json["remoteCode"]["allowedSchemes"], json::array({"http"}));
  EXPECT_EQ(c->json["remoteCode"]["blockedHosts"], json::array());
  EXPECT_EQ(c->json["network"]["whitelist"], json::array({"example.com"}));
  EXPECT_EQ(c->json["network"]["blacklist"], json::array());
}

TEST_F(LoadConfigTest, PoolSizeNumberReplacesTheDefaultObject) {
  write(cwd_file(), R"({"poolSize": 3})");
  auto c = load();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->json["poolSize"], 3);
}

TEST_F(LoadConfigTest, SchemaKeyIsAccepted) {
  write(cwd_file(), R"({"$schema": "https://example.com/isol8.config.schema.json"})");
  auto c = load();
  ASSERT_TRUE(c) << c.error().message;
}

TEST(MergeConfig, OverlayReplacesScalarsAndKeepsSiblings) {
  auto merged = merge_config(default_config(), json{{"defaults", {{"cpuLimit", 2.5}}}}, "t");
  ASSERT_TRUE(merged) << merged.error().message;
  EXPECT_EQ((*merged)["defaults"]["cpuLimit"], 2.5);
  EXPECT_EQ((*merged)["defaults"]["timeoutMs"], 30000);
}

// ---------------------------------------------------------------------------------------------
// Validation errors

TEST_F(LoadConfigTest, UnknownTopLevelKeyNamesFileAndKey) {
  write(cwd_file(), R"({"extraPackages": {"python": ["numpy"]}})");
  auto c = load();
  ASSERT_FALSE(c);
  const std::string& msg = c.error().message;
  EXPECT_NE(msg.find(cwd_file().string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"extraPackages\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown key"), std::string::npos) << msg;
}

// ---------------------------------------------------------------------------------------------
// dependencies: packages `isol8 setup` bakes into the runtime roots (upstream's key)

TEST(ConfigDefaults, DependenciesDefaultToNone) {
  EXPECT_EQ(default_config()["dependencies"], json::object());
}

TEST_F(LoadConfigTest, DependenciesPerRuntimeAreAcceptedAndMerged) {
  write(cwd_file(), R"({"dependencies": {"python": ["numpy", "pandas==2.2.0"],
                                         "node": ["lodash", "@types/node"], "bun": [],
                                         "deno": ["zod"], "bash": ["jq"]}})");
  auto c = load();
  ASSERT_TRUE(c) << c.error().message;
  const json& d = c->json["dependencies"];
  EXPECT_EQ(d["python"], json({"numpy", "pandas==2.2.0"}));
  EXPECT_EQ(d["node"], json({"lodash", "@types/node"}));
  EXPECT_EQ(d["bun"], json::array());
  EXPECT_EQ(d["deno"], json({"zod"}));
  EXPECT_EQ(d["bash"], json({"jq"}));
  // The rest of the configuration keeps its defaults.
  EXPECT_EQ(c->json["defaults"], default_config()["defaults"]);
}

TEST_F(LoadConfigTest, DependenciesOfAnUnknownRuntimeAreRefused) {
  write(cwd_file(), R"({"dependencies": {"ruby": ["rails"]}})");
  auto c = load();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("unknown key \"dependencies.ruby\""), std::string::npos)
      << c.error().message;
}

TEST_F(LoadConfigTest, DependenciesMustBeAListOfPackageNames) {
  for (const char* bad :
       {R"({"dependencies": {"node": "lodash"}})", R"({"dependencies": {"node": [1]}})",
        R"({"dependencies": ["lodash"]})"}) {
    write(cwd_file(), bad);
    auto c = load();
    ASSERT_FALSE(c) << bad;
    EXPECT_NE(c.error().message.find("\"dependencies"), std::string::npos) << c.error().message;
  }
  // Names become arguments of pip, npm and apt-get: upstream's package-name check, and no
  // leading '-' that would be read as an option.
  for (const char* bad : {R"({"dependencies": {"python": ["numpy; rm -rf /"]}})",
                          R"({"dependencies": {"python": ["--index-url=http://x"]}})",
                          R"({"dependencies": {"node": [""]}})"}) {
    write(cwd_file(), bad);
    auto c = load();
    ASSERT_FALSE(c) << bad;
    const std::string& msg = c.error().message;
    EXPECT_NE(msg.find("Invalid package name"), std::string::npos) << msg;
    EXPECT_NE(msg.find("\"dependencies."), std::string::npos) << msg;
  }
}

TEST_F(LoadConfigTest, UnknownNestedKeyNamesTheDottedPath) {
  write(home_file(), R"({"defaults": {"timeoutMs": 100, "foo": 1}})");
  auto c = load();
  ASSERT_FALSE(c);
  const std::string& msg = c.error().message;
  EXPECT_NE(msg.find(home_file().string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"defaults.foo\""), std::string::npos) << msg;
}

TEST_F(LoadConfigTest, UnknownKeyTwoLevelsDownNamesTheDottedPath) {
  write(cwd_file(), R"({"native": {"rootfs": "/srv/root"}})");
  auto c = load();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("\"native.rootfs\""), std::string::npos) << c.error().message;
}

TEST_F(LoadConfigTest, WrongTypeNamesTheKey) {
  write(cwd_file(), R"({"defaults": {"timeoutMs": "soon"}})");
  auto c = load();
  ASSERT_FALSE(c);
  const std::string& msg = c.error().message;
  EXPECT_NE(msg.find(cwd_file().string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"defaults.timeoutMs\""), std::string::npos) << msg;
}

TEST_F(LoadConfigTest, WrongTopLevelTypeNamesTheKey) {
  write(cwd_file(), R"({"debug": "yes"})");
  auto c = load();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("\"debug\""), std::string::npos) << c.error().message;
}

TEST_F(LoadConfigTest, SectionThatIsNotAnObjectNamesTheKey) {
  write(cwd_file(), R"({"defaults": 5})");
  auto c = load();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("\"defaults\""), std::string::npos) << c.error().message;
}

TEST_F(LoadConfigTest, ValueOutsideTheEnumNamesTheKey) {
  write(cwd_file(), R"({"defaults": {"network": "bridge"}})");
  auto c = load();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("\"defaults.network\""), std::string::npos) << c.error().message;
}

TEST_F(LoadConfigTest, BadMemoryLimitNamesTheKey) {
  write(cwd_file(), R"({"defaults": {"memoryLimit": "lots"}})");
  auto c = load();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("\"defaults.memoryLimit\""), std::string::npos)
      << c.error().message;
}

// The numbers with a stated range are checked by the same parsers as the CLI's flags; the message
// names the file and the key and quotes the value.
TEST_F(LoadConfigTest, NumbersOutOfRangeNameTheFileAndTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"defaults": {"timeoutMs": -5}})",
       "\"defaults.timeoutMs\" must be a positive integer number of milliseconds, at most "
       "86400000 (24 hours): got \"-5\""},
      {R"({"defaults": {"timeoutMs": 9300000000000}})",
       "\"defaults.timeoutMs\" must be a positive integer number of milliseconds, at most "
       "86400000 (24 hours): got \"9300000000000\""},
      {R"({"defaults": {"memoryLimit": "1k"}})",
       "\"defaults.memoryLimit\" must be at least 6m (the smallest limit Docker accepts): got "
       "\"1k\""},
      {R"({"defaults": {"memoryLimit": "999t"}})",
       "\"defaults.memoryLimit\" must be at most 1t: got \"999t\""},
      {R"({"defaults": {"cpuLimit": 1e9}})",
       "\"defaults.cpuLimit\" must be a number of CPUs from 0.01 to 1024: got \"1000000000.0\""},
      {R"({"defaults": {"pidsLimit": 0}})",
       "\"defaults.pidsLimit\" must be a positive integer number of processes, at most 4194304: "
       "got \"0\""},
      {R"({"defaults": {"sandboxSize": "10k"}})",
       "\"defaults.sandboxSize\" must be from 1m to 1t: got \"10k\""},
      {R"({"defaults": {"tmpSize": 5}})", "\"defaults.tmpSize\" must be from 1m to 1t: got \"5\""},
      {R"({"defaults": {"maxOutputSize": 2.5}})",
       "\"defaults.maxOutputSize\" must be a positive integer number of bytes, at most "
       "1073741824 (1 GiB): got \"2.5\""},
  };
  for (const auto& [text, message] : cases) {
    write(cwd_file(), text);
    auto c = load();
    ASSERT_FALSE(c) << text;
    EXPECT_EQ(c.error().message, "Invalid config in " + cwd_file().string() + ": " + message);
  }
}

TEST_F(LoadConfigTest, NumbersInRangeBecomeTypedOptions) {
  write(cwd_file(),
        R"({"defaults": {"timeoutMs": 86400000, "memoryLimit": "6m", "cpuLimit": 0.5,
            "pidsLimit": 4194304, "sandboxSize": "1t", "tmpSize": "1m", "maxOutputSize": 1}})");
  auto c = load();
  ASSERT_TRUE(c) << c.error().message;
  auto o = options_from_config(c->json);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->timeout_ms, 86400000);
  EXPECT_EQ(o->memory_limit_bytes, 6ull << 20);
  EXPECT_DOUBLE_EQ(o->cpu_limit, 0.5);
  EXPECT_EQ(o->pids_limit, 4194304);
  EXPECT_EQ(o->sandbox_size_bytes, 1ull << 40);
  EXPECT_EQ(o->tmp_size_bytes, 1ull << 20);
  EXPECT_EQ(o->max_output_size, 1);
}

TEST_F(LoadConfigTest, NonPositiveNumberIsRejected) {
  write(cwd_file(), R"({"maxConcurrent": 0})");
  auto c = load();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("\"maxConcurrent\""), std::string::npos) << c.error().message;
}

TEST_F(LoadConfigTest, ArrayWithANonStringNamesTheKey) {
  write(cwd_file(), R"({"network": {"whitelist": ["a.com", 7]}})");
  auto c = load();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("\"network.whitelist\""), std::string::npos)
      << c.error().message;
}

TEST_F(LoadConfigTest, HostPatternRe2CannotCompileNamesFileKeyAndPattern) {
  write(cwd_file(), R"J({"network": {"whitelist": ["^api\\.ok$", "^(?!evil)"]}})J");
  auto c = load();
  ASSERT_FALSE(c);
  const std::string& msg = c.error().message;
  EXPECT_NE(msg.find(cwd_file().string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(R"J("network.whitelist" pattern "^(?!evil)": )J"), std::string::npos) << msg;
  EXPECT_NE(msg.find("RE2"), std::string::npos) << msg;
}

TEST_F(LoadConfigTest, AcceptedHostPatternsAreKept) {
  write(cwd_file(), R"({"network": {"whitelist": ["^(a|aa)*$", "\\.example\\.com$"]}})");
  auto c = load();
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->json["network"]["whitelist"].size(), 2u);
}

TEST_F(LoadConfigTest, InvalidJsonNamesTheFile) {
  write(cwd_file(), "{\"debug\": true,,}");
  auto c = load();
  ASSERT_FALSE(c);
  const std::string& msg = c.error().message;
  EXPECT_NE(msg.find(cwd_file().string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("Invalid JSON"), std::string::npos) << msg;
}

TEST_F(LoadConfigTest, EmptyFileIsInvalidJson) {
  write(home_file(), "");
  auto c = load();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find(home_file().string()), std::string::npos) << c.error().message;
}

TEST_F(LoadConfigTest, TopLevelArrayIsRejected) {
  write(cwd_file(), "[]");
  auto c = load();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find(cwd_file().string()), std::string::npos) << c.error().message;
}

// ---------------------------------------------------------------------------------------------
// options_from_config

TEST(OptionsFromConfig, MapsEveryField) {
  auto merged = merge_config(default_config(), json::parse(R"({
      "debug": true,
      "backend": "docker",
      "defaults": {"timeoutMs": 1234, "memoryLimit": "1g", "cpuLimit": 2.5, "network": "host",
                   "sandboxSize": "64m", "tmpSize": "32m", "pidsLimit": 99,
                   "maxOutputSize": 4096},
      "native": {"rootDir": "/srv/isol8/python", "idMapBase": 2000000, "hostname": "box"}
    })"),
                             "test");
  ASSERT_TRUE(merged) << merged.error().message;
  auto o = options_from_config(*merged);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_TRUE(o->debug);
  EXPECT_EQ(o->backend, BackendKind::kDocker);
  EXPECT_EQ(o->timeout_ms, 1234);
  EXPECT_EQ(o->memory_limit_bytes, 1ull << 30);
  EXPECT_DOUBLE_EQ(o->cpu_limit, 2.5);
  EXPECT_EQ(o->network, NetworkMode::kHost);
  EXPECT_EQ(o->sandbox_size_bytes, 64ull << 20);
  EXPECT_EQ(o->tmp_size_bytes, 32ull << 20);
  EXPECT_EQ(o->pids_limit, 99);
  EXPECT_EQ(o->max_output_size, 4096);
  EXPECT_EQ(o->native.root_dir, "/srv/isol8/python");
  EXPECT_EQ(o->native.id_map_base, 2000000u);
  EXPECT_EQ(o->native.hostname, "box");
}

TEST(OptionsFromConfig, FilteredModeDefaultsToAutoAndIsMapped) {
  auto defaults = options_from_config(default_config());
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->native.filtered_mode, FilteredMode::kAuto);
  auto merged =
      merge_config(default_config(), json{{"native", {{"filteredMode", "relay"}}}}, "test");
  ASSERT_TRUE(merged) << merged.error().message;
  auto o = options_from_config(*merged);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->native.filtered_mode, FilteredMode::kRelay);
}

TEST(OptionsFromConfig, UnknownFilteredModeNamesTheKey) {
  auto merged = merge_config(default_config(), json{{"native", {{"filteredMode", "tap"}}}}, "test");
  ASSERT_FALSE(merged);
  EXPECT_NE(merged.error().message.find("native.filteredMode"), std::string::npos)
      << merged.error().message;
}

TEST(OptionsFromConfig, MapsFilteredNetwork) {
  auto merged =
      merge_config(default_config(), json{{"defaults", {{"network", "filtered"}}}}, "test");
  ASSERT_TRUE(merged) << merged.error().message;
  auto o = options_from_config(*merged);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->network, NetworkMode::kFiltered);
}

TEST(OptionsFromConfig, FromALoadedFile) {
  test::TempDir cwd{"isol8-config-test"};
  write(cwd / "isol8.config.json",
        R"({"defaults": {"network": "host"}, "native": {"idMapBase": 3000000}})");
  auto c = load_config(cwd.path(), std::nullopt);
  ASSERT_TRUE(c) << c.error().message;
  auto o = options_from_config(c->json);
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->network, NetworkMode::kHost);
  EXPECT_EQ(o->native.id_map_base, 3000000u);
  EXPECT_EQ(o->backend, BackendKind::kNative);
  EXPECT_EQ(o->memory_limit_bytes, 512ull << 20);
}

// idMapBase is a host uid; a value that does not fit in 32 bits must be refused, either when the
// file is validated or when options are built, instead of being silently wrapped.
TEST(OptionsFromConfig, IdMapBaseBeyond32BitsIsRejectedNotWrapped) {
  auto merged =
      merge_config(default_config(), json{{"native", {{"idMapBase", 5000000000LL}}}}, "test");
  if (!merged) {
    EXPECT_NE(merged.error().message.find("native.idMapBase"), std::string::npos)
        << merged.error().message;
    return;
  }
  auto o = options_from_config(*merged);
  EXPECT_FALSE(o) << "idMapBase 5000000000 was accepted as " << o->native.id_map_base;
}

}  // namespace
}  // namespace isol8
