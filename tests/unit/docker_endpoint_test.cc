#include "backends/docker/endpoint.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "backends/docker/client.h"

namespace isol8::docker {
namespace {

TEST(DockerEndpoint, DefaultIsTheStandardSocket) {
  auto ep = parse_docker_host("");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->kind, Endpoint::Kind::kUnix);
  EXPECT_EQ(ep->path, "/var/run/docker.sock");
}

TEST(DockerEndpoint, UnixUrlsAndPaths) {
  auto a = parse_docker_host("unix:///tmp/x/docker.sock");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->path, "/tmp/x/docker.sock");
  EXPECT_EQ(a->display(), "/tmp/x/docker.sock");
  auto b = parse_docker_host("/run/d.sock");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->path, "/run/d.sock");
  EXPECT_FALSE(parse_docker_host("unix://relative.sock"));
}

TEST(DockerEndpoint, TcpUrls) {
  auto a = parse_docker_host("tcp://127.0.0.1:2376");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, Endpoint::Kind::kTcp);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 2376);
  EXPECT_EQ(a->display(), "tcp://127.0.0.1:2376");
  auto b = parse_docker_host("tcp://dockerhost");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->port, 2375);
  auto c = parse_docker_host("tcp://[::1]:2375/");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 2375);
}

TEST(DockerEndpoint, InvalidHostsNameTheProblem) {
  for (const char* bad : {"tcp://:2375", "tcp://h:0", "tcp://h:99999", "tcp://h:12x", "ssh://host",
                          "https://h:2376", "tcp://h:1/path"}) {
    auto r = parse_docker_host(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("Invalid Docker host"), std::string::npos) << bad;
  }
}

TEST(DockerEndpoint, DockerHostEnvironment) {
  const char* saved = std::getenv("DOCKER_HOST");
  const std::string original = saved != nullptr ? saved : "";
  ::setenv("DOCKER_HOST", "unix:///tmp/env.sock", 1);
  auto ep = endpoint_from_environment();
  if (saved != nullptr) {
    ::setenv("DOCKER_HOST", original.c_str(), 1);
  } else {
    ::unsetenv("DOCKER_HOST");
  }
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->path, "/tmp/env.sock");
}

TEST(DockerApiVersion, NegotiatesTheLowerVersion) {
  EXPECT_EQ(*negotiate_api_version("1.41"), "1.41");
  EXPECT_EQ(*negotiate_api_version("1.43"), "1.41");  // newer daemon: our version
  EXPECT_EQ(*negotiate_api_version("1.40"), "1.40");  // older daemon: its version
  EXPECT_EQ(*negotiate_api_version("2.0"), "1.41");
  EXPECT_FALSE(negotiate_api_version("1.12"));
  EXPECT_FALSE(negotiate_api_version("one.two"));
  EXPECT_FALSE(negotiate_api_version("1"));
}

TEST(DockerUrlEncode, EncodesReservedCharacters) {
  EXPECT_EQ(url_encode("isol8:python"), "isol8%3Apython");
  EXPECT_EQ(url_encode("{\"label\":[\"a=b\"]}"), "%7B%22label%22%3A%5B%22a%3Db%22%5D%7D");
  EXPECT_EQ(url_encode("LABEL a=b c"), "LABEL%20a%3Db%20c");
}

}  // namespace
}  // namespace isol8::docker
