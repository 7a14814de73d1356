// LiveStdin: the WebSocket's live stdin buffer, against its engine end read by hand.

#include "server/live_stdin.h"

#include <poll.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

namespace isol8::server {
namespace {

// Reads what the engine's end has now (without waiting), or "<eof>" at its end.
std::string read_now(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return out;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) return out + "<eof>";
    if (n < 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

TEST(LiveStdin, DataThenEofReachTheEngineEnd) {
  boost::asio::io_context ioc;
  auto opened = LiveStdin::open(ioc, 1024);
  ASSERT_TRUE(opened) << opened.error().message;
  LiveStdin& in = *opened->writer;
  const int fd = opened->engine_end.get();
  EXPECT_EQ(in.write("one\n"), LiveStdin::Accepted::kQueued);
  EXPECT_EQ(read_now(fd), "one\n");
  EXPECT_EQ(in.write("two"), LiveStdin::Accepted::kQueued);
  in.finish();
  EXPECT_EQ(read_now(fd), "two<eof>");
  EXPECT_EQ(in.write("late"), LiveStdin::Accepted::kClosed);
}

TEST(LiveStdin, WhatTheProgramHasNotTakenIsCappedAndWaitsForRoom) {
  boost::asio::io_context ioc;
  const size_t cap = 256 * 1024;
  auto opened = LiveStdin::open(ioc, cap);
  ASSERT_TRUE(opened) << opened.error().message;
  LiveStdin& in = *opened->writer;
  const int fd = opened->engine_end.get();
  // Nobody reads: the socket fills, then the queue up to the cap, then messages are refused.
  const std::string chunk(64 * 1024, 'x');
  size_t accepted = 0;
  for (int i = 0; i < 100 && in.write(chunk) == LiveStdin::Accepted::kQueued; ++i) {
    accepted += chunk.size();
  }
  ASSERT_EQ(in.write(chunk), LiveStdin::Accepted::kOverCap);
  EXPECT_LE(in.waiting(), cap);
  EXPECT_GT(in.waiting(), cap - chunk.size());
  EXPECT_EQ(in.write(std::string(cap + 1, 'y')), LiveStdin::Accepted::kOverCap);

  // The engine reads: what waited goes out as room appears, in order, then the EOF.
  in.finish();
  size_t received = 0;
  bool eof = false;
  for (int round = 0; !eof && round < 10000; ++round) {
    std::string got = read_now(fd);
    if (got.size() >= 5 && got.compare(got.size() - 5, 5, "<eof>") == 0) {
      eof = true;
      got.resize(got.size() - 5);
    }
    EXPECT_EQ(got.find_first_not_of('x'), std::string::npos);
    received += got.size();
    ioc.restart();  // it stops whenever it runs out of work
    ioc.run_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(eof);
  EXPECT_EQ(received, accepted);
  EXPECT_EQ(in.waiting(), 0u);
}

TEST(LiveStdin, AnEngineEndThatIsGoneClosesIt) {
  boost::asio::io_context ioc;
  auto opened = LiveStdin::open(ioc, 1024);
  ASSERT_TRUE(opened) << opened.error().message;
  opened->engine_end.reset();                                              // the run is over
  EXPECT_EQ(opened->writer->write("lost"), LiveStdin::Accepted::kQueued);  // EPIPE: closed
  EXPECT_EQ(opened->writer->write("more"), LiveStdin::Accepted::kClosed);
  EXPECT_EQ(opened->writer->waiting(), 0u);
}

}  // namespace
}  // namespace isol8::server
