// Errors of wire format v1 (docs/wire-format.md): what decoding a message it cannot use throws.
#pragma once

#include <stdexcept>
#include <string>

namespace vkstream::wire {

/// A message that does not follow the wire format. Nothing is kept between messages, so the
/// next message decodes as if this one had never arrived.
class WireFormatError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Garbage, a truncated payload, a missing key, a wrong type or an array that does not decode.
class MalformedMessage : public WireFormatError {
public:
    using WireFormatError::WireFormatError;
};

/// A well-formed message of another schema version than this decoder reads.
class SchemaVersionError : public WireFormatError {
public:
    SchemaVersionError(const std::string& found, const std::string& expected)
        : WireFormatError("message schema '" + found + "' is not supported: this client reads '" + expected +
                          "' (upgrade the client or the publisher so that both speak the same version)"),
          found(found),
          expected(expected) {}

    std::string found;
    std::string expected;
};

}  // namespace vkstream::wire
