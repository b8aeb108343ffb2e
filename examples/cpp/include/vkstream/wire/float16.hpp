// IEEE 754 binary16, the depth map's type on the wire: its bit patterns and their values.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace vkstream::wire {

/// The exact value of a binary16 bit pattern (every binary16 value is a double).
inline double float16_to_double(uint16_t bits) {
    const int exponent = (bits >> 10) & 0x1F;
    const int fraction = bits & 0x3FF;
    double value;
    if (exponent == 0) {
        value = std::ldexp(fraction, -24);  // zero and subnormals
    } else if (exponent == 31) {
        value = fraction ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
    } else {
        value = std::ldexp(fraction + 1024, exponent - 25);
    }
    return (bits & 0x8000) ? -value : value;
}

/// A depth pixel has an estimate when its value is positive and finite: patterns 0x0001 to 0x7BFF.
inline bool has_depth(uint16_t bits) {
    return bits >= 0x0001 && bits <= 0x7BFF;
}

}  // namespace vkstream::wire
