#pragma once
// The private IPv4 range that filtered sandboxes take their veth addresses from, carved into /30
// slots: slot n uses <base + 4n + 1> on the host end and <base + 4n + 2> inside the sandbox.

#include <cstdint>
#include <string>
#include <string_view>

#include "isol8/result.h"

namespace isol8 {

struct SlotAddresses {
  uint32_t host = 0;     // host byte order
  uint32_t sandbox = 0;  // host byte order
  static constexpr int kPrefix = 30;
};

std::string format_ipv4(uint32_t address);

class AddressPool {
 public:
  static constexpr std::string_view kDefaultCidr = "10.231.0.0/16";

  // "a.b.c.d/len" with len in 8..30 and no host bits set.
  static Result<AddressPool> parse(std::string_view cidr);

  uint32_t slot_count() const { return slots_; }
  SlotAddresses addresses(uint32_t slot) const;
  std::string cidr() const;

 private:
  uint32_t base_ = 0;
  int prefix_ = 0;
  uint32_t slots_ = 0;
};

}  // namespace isol8
