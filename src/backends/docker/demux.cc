#include "backends/docker/demux.h"

#include <algorithm>

#include <fmt/format.h>

namespace isol8::docker {

Result<void> FrameDemuxer::feed(std::string_view data) {
  while (!data.empty()) {
    if (remaining_ == 0) {
      const size_t take = std::min(data.size(), sizeof(header_) - header_fill_);
      std::copy_n(data.data(), take, header_ + header_fill_);
      header_fill_ += take;
      data.remove_prefix(take);
      if (header_fill_ < sizeof(header_)) return ok();
      header_fill_ = 0;
      if (header_[0] > 3 || header_[1] != 0 || header_[2] != 0 || header_[3] != 0) {
        return make_error(
            fmt::format("Malformed Docker output stream: frame header {:02x} {:02x} {:02x} {:02x}",
                        header_[0], header_[1], header_[2], header_[3]));
      }
      current_ = static_cast<FrameStream>(header_[0]);
      remaining_ = (uint32_t{header_[4]} << 24) | (uint32_t{header_[5]} << 16) |
                   (uint32_t{header_[6]} << 8) | uint32_t{header_[7]};
      continue;
    }
    const size_t take = std::min<size_t>(data.size(), remaining_);
    on_payload_(current_, data.substr(0, take));
    remaining_ -= static_cast<uint32_t>(take);
    data.remove_prefix(take);
  }
  return ok();
}

}  // namespace isol8::docker
