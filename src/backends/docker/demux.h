#pragma once
// Docker's multiplexed attach/exec stream (non-TTY): frames of an 8-byte header
// {stream, 0, 0, 0, size as big-endian uint32} followed by `size` payload bytes; stream 1 is
// stdout, 2 stderr (0 stdin, 3 the daemon's own error text, which we treat as stderr).
// Pure: bytes in, (stream, payload) out, frames split anywhere across reads.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "isol8/result.h"

namespace isol8::docker {

enum class FrameStream : uint8_t { kStdin = 0, kStdout = 1, kStderr = 2, kSystemErr = 3 };

class FrameDemuxer {
 public:
  using Callback = std::function<void(FrameStream, std::string_view)>;
  explicit FrameDemuxer(Callback on_payload) : on_payload_(std::move(on_payload)) {}

  // Feeds raw bytes; payloads are delivered as soon as they arrive (a frame's payload may be
  // delivered in several pieces). Fails on a header with an unknown stream byte or non-zero
  // padding, which means the stream is not multiplexed.
  Result<void> feed(std::string_view data);

  // True when the stream ended between frames (no partial header or payload pending).
  bool at_frame_boundary() const { return header_fill_ == 0 && remaining_ == 0; }

 private:
  Callback on_payload_;
  uint8_t header_[8] = {};
  size_t header_fill_ = 0;
  uint32_t remaining_ = 0;
  FrameStream current_ = FrameStream::kStdout;
};

}  // namespace isol8::docker
