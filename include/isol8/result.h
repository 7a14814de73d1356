#pragma once
// One error strategy for the whole project: functions that can fail return Result<T>, shaped like
// std::expected (C++23), carrying an Error with an errno-style code and a message that gains
// context ("while ...") as it travels up. Exceptions are used only at the edges (CLI parsing,
// JSON).

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace isol8 {

struct Error {
  int code = 0;  // errno value when the failure came from the kernel, else 0
  std::string message;

  // Prefixes the message with what the caller was doing: "while X: <message>".
  [[nodiscard]] Error context(std::string_view what) && {
    message = std::string(what) + ": " + message;
    return std::move(*this);
  }
  [[nodiscard]] Error context(std::string_view what) const& { return Error(*this).context(what); }
};

// Builds an Error from errno (or an explicit code), appending strerror.
Error errno_error(std::string_view what, int code = errno);
inline Error make_error(std::string message) { return Error{0, std::move(message)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

inline Result<void> ok() { return {}; }

}  // namespace isol8

// Propagates an error from an expression returning Result<...>; evaluates to nothing on success.
#define ISOL8_TRY(expr)                            \
  do {                                             \
    if (auto isol8_try_r = (expr); !isol8_try_r) { \
      return std::move(isol8_try_r).error();       \
    }                                              \
  } while (0)
