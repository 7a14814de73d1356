// StdinFeed: the request's stdin, then the live source until its EOF, one read at a time.

#include "common/stdin_feed.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

#include "common/unique_fd.h"

namespace isol8 {
namespace {

struct Pipe {
  UniqueFd reader, writer;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
      reader.reset(fds[0]);
      writer.reset(fds[1]);
    }
  }
};

// Writes everything the feed has until it would wait for its source.
std::string take(StdinFeed& feed) {
  std::string out(feed.pending());
  feed.consumed(feed.pending().size());
  return out;
}

TEST(StdinFeed, WithoutASourceItIsTheRequestsStdinThenDone) {
  StdinFeed empty("", -1);
  EXPECT_TRUE(empty.done());
  StdinFeed feed("abc", -1);
  EXPECT_FALSE(feed.done());
  EXPECT_EQ(feed.source_to_poll(), -1);
  feed.consumed(1);
  EXPECT_EQ(feed.pending(), "bc");
  feed.consumed(2);
  EXPECT_TRUE(feed.done());
}

TEST(StdinFeed, TheSourceFollowsTheRequestsStdinUntilItsEof) {
  Pipe p;
  ASSERT_TRUE(p.writer);
  StdinFeed feed("head-", p.reader.get());
  EXPECT_EQ(feed.source_to_poll(), -1) << "the request's stdin goes first";
  EXPECT_EQ(take(feed), "head-");
  EXPECT_EQ(feed.source_to_poll(), p.reader.get());
  EXPECT_FALSE(feed.done());
  feed.refill();  // nothing yet (EAGAIN): still open
  EXPECT_FALSE(feed.done());
  EXPECT_EQ(feed.pending(), "");
  ASSERT_EQ(::write(p.writer.get(), "live", 4), 4);
  feed.refill();
  EXPECT_EQ(take(feed), "live");
  p.writer.reset();
  feed.refill();
  EXPECT_TRUE(feed.done());
  EXPECT_EQ(feed.source_to_poll(), -1);
}

TEST(StdinFeed, OneReadOfTheSourceIsHeldAtATime) {
  Pipe p;
  ASSERT_TRUE(p.writer);
  ASSERT_EQ(::fcntl(p.writer.get(), F_SETPIPE_SZ, 1 << 20), 1 << 20);
  const std::string big(200 * 1024, 'x');
  ASSERT_EQ(::write(p.writer.get(), big.data(), big.size()), static_cast<ssize_t>(big.size()));
  StdinFeed feed("", p.reader.get());
  feed.refill();
  EXPECT_EQ(feed.pending().size(), 64u * 1024);
  feed.refill();  // not read again before what it holds is written
  EXPECT_EQ(feed.pending().size(), 64u * 1024);
  EXPECT_EQ(feed.source_to_poll(), -1);
}

TEST(StdinFeed, AbandonedWhenTheProgramNoLongerReads) {
  Pipe p;
  StdinFeed feed("unwritten", p.reader.get());
  feed.abandon();
  EXPECT_TRUE(feed.done());
  EXPECT_EQ(feed.pending(), "");
}

}  // namespace
}  // namespace isol8
