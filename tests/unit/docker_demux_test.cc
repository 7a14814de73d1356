#include "backends/docker/demux.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace isol8::docker {
namespace {

std::string frame(uint8_t stream, const std::string& payload) {
  std::string h(8, '\0');
  h[0] = static_cast<char>(stream);
  const uint32_t n = static_cast<uint32_t>(payload.size());
  h[4] = static_cast<char>(n >> 24);
  h[5] = static_cast<char>(n >> 16);
  h[6] = static_cast<char>(n >> 8);
  h[7] = static_cast<char>(n);
  return h + payload;
}

struct Collected {
  std::string out;
  std::string err;
};

TEST(DockerDemux, SplitsStdoutAndStderr) {
  Collected c;
  FrameDemuxer d([&](FrameStream s, std::string_view p) {
    (s == FrameStream::kStdout ? c.out : c.err).append(p);
  });
  ASSERT_TRUE(d.feed(frame(1, "hello ") + frame(2, "oops") + frame(1, "world")));
  EXPECT_EQ(c.out, "hello world");
  EXPECT_EQ(c.err, "oops");
  EXPECT_TRUE(d.at_frame_boundary());
}

TEST(DockerDemux, FramesSplitAtEveryByte) {
  const std::string stream = frame(1, "abc") + frame(2, std::string(300, 'x')) + frame(1, "") +
                             frame(1, std::string("\0\1\2", 3));
  Collected c;
  FrameDemuxer d([&](FrameStream s, std::string_view p) {
    (s == FrameStream::kStdout ? c.out : c.err).append(p);
  });
  for (char ch : stream) ASSERT_TRUE(d.feed(std::string_view(&ch, 1)));
  EXPECT_EQ(c.out, std::string("abc\0\1\2", 6));
  EXPECT_EQ(c.err, std::string(300, 'x'));
  EXPECT_TRUE(d.at_frame_boundary());
}

TEST(DockerDemux, PartialFrameIsNotABoundary) {
  FrameDemuxer d([](FrameStream, std::string_view) {});
  const std::string f = frame(1, "abcdef");
  ASSERT_TRUE(d.feed(f.substr(0, 10)));
  EXPECT_FALSE(d.at_frame_boundary());
}

TEST(DockerDemux, LargeFrameLength) {
  std::string payload(70000, 'y');
  size_t got = 0;
  FrameDemuxer d([&](FrameStream s, std::string_view p) {
    EXPECT_EQ(s, FrameStream::kStderr);
    got += p.size();
  });
  ASSERT_TRUE(d.feed(frame(2, payload)));
  EXPECT_EQ(got, payload.size());
}

TEST(DockerDemux, RejectsANonMultiplexedStream) {
  FrameDemuxer d([](FrameStream, std::string_view) {});
  auto r = d.feed("hello world, not frames");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("Malformed Docker output stream"), std::string::npos);
}

}  // namespace
}  // namespace isol8::docker
