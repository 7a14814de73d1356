// The host names the filter's patterns are matched against come from the sandboxed program. With
// a backtracking engine, `--allow '^(a|aa)*$'` and a CONNECT for a 42-character name held the
// proxy's io thread, which every filtered run of an engine shares, for more than 90 s. RE2 answers
// in time linear in the name: a flood of such names from one slot must not stall another slot.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "proxy_env.h"

namespace isol8::proxy::test {
namespace {

using Clock = std::chrono::steady_clock;

// Far above what a request through an idle local proxy takes, far below the minutes the
// backtracking engine took for one name: only guards against the exponential blowup.
constexpr auto kDeadline = std::chrono::seconds(5);

// A name `^(a|aa)*$` almost matches: `length` a's, then a character it cannot match.
std::string hostile_name(size_t length) { return std::string(length, 'a') + ".test"; }

TEST(ProxyHostPatterns, LongNameFloodDoesNotStallAnotherSlotsRequests) {
  ProxyConfig hostile;
  hostile.filter.whitelist = {"^(a|aa)*$"};
  auto proxy = start_proxy(hostile);
  ASSERT_TRUE(proxy);
  const uint16_t flood_port = port_of(*proxy);
  ProxyConfig other;
  other.filter.whitelist = {R"(^api\.allowed\.test$)"};
  auto slot = proxy->add_slot(other, {Listener{"127.0.0.1", 0, ""}});
  ASSERT_TRUE(slot.has_value()) << slot.error().message;
  const uint16_t other_port = proxy->bound(*slot).at(0).tcp_port;

  // Names from 34 characters (2 s for std::regex) to the longest host name the proxy accepts,
  // by CONNECT and by absolute URI, from several connections at once, until the other slot's
  // requests are done.
  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> flood;
  for (int t = 0; t < 4; ++t) {
    flood.emplace_back([&, t] {
      for (size_t i = 0; !stop.load() || i < 8; ++i) {
        const std::string name = hostile_name(34 + (t * 61 + i * 7) % 215);
        try {
          http::response<http::string_body> res;
          if (i % 2 == 0) {
            Client client(flood_port);
            res = client.connect(name + ":443");
          } else {
            res = get(flood_port, "http://" + name + "/");
          }
          const bool blocked = res.result_int() == 403 &&
                               res.body().find("blocked by network filter") != std::string::npos;
          ++(blocked ? refused : wrong);
        } catch (const std::exception&) {
          ++wrong;
        }
      }
    });
  }

  for (int i = 0; i < 5; ++i) {
    const auto start = Clock::now();
    try {
      const auto res = get(other_port, "http://api.allowed.test/r" + std::to_string(i));
      EXPECT_EQ(res.body(), "hello GET /r" + std::to_string(i) + " host=api.allowed.test");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the other slot's request got no answer: " << e.what();
    }
    EXPECT_LT(Clock::now() - start, kDeadline)
        << "the other slot's request waited behind the flood";
  }
  stop = true;
  for (auto& t : flood) t.join();
  EXPECT_GE(refused.load(), 32);
  EXPECT_EQ(wrong.load(), 0) << "every flooded name must get the filter's 403";
}

}  // namespace
}  // namespace isol8::proxy::test
