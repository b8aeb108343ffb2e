// vkstream_decode FILE.msgpack [TOPIC]: decode one message payload and print its content as JSON, in
// the layout of the golden samples' JSON (docs/wire-samples/README.md), so the two can be compared.
#include <openssl/evp.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "vkstream/wire.hpp"

namespace {

namespace wire = vkstream::wire;

const char* const USAGE =
    "usage: vkstream_decode FILE.msgpack [TOPIC]\n"
    "Decode one wire-format v1 payload (the second frame of a message) and print its content as JSON:\n"
    "every field, each array as dtype, shape, codec, the SHA-256 of its little-endian bytes and its values\n"
    "at a 5x5 grid. TOPIC, when given, must end with '/<stream>' of the payload.\n"
    "Exit status: 0 decoded, 1 the message does not follow the wire format, 2 bad arguments or file.\n";

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\', out += c;
        } else if (u < 0x20) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", u);
            out += escaped;
        } else {
            out += c;  // valid UTF-8, checked by the decoder
        }
    }
    return out + "\"";
}

/// A double that reads back to the same value, always as a JSON float (as Python's json writes it).
std::string json_double(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", v);
    std::string out = text;
    if (out.find_first_of(".e") == std::string::npos) out += ".0";
    return out;
}

std::string sha256_hex(const std::vector<uint8_t>& bytes) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("OpenSSL could not compute SHA-256");
    }
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) {
        char pair[3];
        std::snprintf(pair, sizeof pair, "%02x", digest[i]);
        hex += pair;
    }
    return hex;
}

/// Sampled indices along an axis of length n: 0, n/4, n/2, 3n/4 and n-1, once each, ascending.
std::set<size_t> grid(size_t n) {
    return {0, n / 4, n / 2, 3 * n / 4, n - 1};
}

template <typename Value, typename Format>
std::string describe_array(const wire::Result& r, const char* dtype, const std::string& codec,
                           const std::vector<Value>& values, Format format) {
    std::vector<uint8_t> little;
    for (const Value v : values) {
        for (size_t b = 0; b < sizeof(Value); ++b) little.push_back(static_cast<uint8_t>(v >> (8 * b)));
    }
    std::ostringstream out;
    out << "{\"dtype\": " << json_string(dtype) << ", \"shape\": [" << r.height << ", " << r.width
        << "], \"codec\": " << json_string(codec) << ", \"sha256\": " << json_string(sha256_hex(little))
        << ", \"samples\": [";
    const char* sep = "";
    for (const size_t y : grid(r.height)) {
        for (const size_t x : grid(r.width)) {
            out << sep << "{\"y\": " << y << ", \"x\": " << x
                << ", \"value\": " << format(values[y * r.width + x]) << "}";
            sep = ", ";
        }
    }
    out << "]}";
    return out.str();
}

std::string describe_segment(const wire::Segment& s) {
    std::ostringstream out;
    out << "{\"id\": " << s.id << ", \"class\": " << s.class_id
        << ", \"thing\": " << (s.thing ? "true" : "false") << ", \"track\": " << s.track
        << ", \"score\": " << json_double(s.score) << ", \"area\": " << s.area << ", \"bbox\": [" << s.bbox[0]
        << ", " << s.bbox[1] << ", " << s.bbox[2] << ", " << s.bbox[3]
        << "], \"depth_m\": " << json_double(s.depth_m) << ", \"xyz\": ";
    if (s.xyz) {
        out << "[" << json_double((*s.xyz)[0]) << ", " << json_double((*s.xyz)[1]) << ", "
            << json_double((*s.xyz)[2]) << "]";
    } else {
        out << "null";
    }
    out << "}";
    return out.str();
}

template <typename Items, typename Format>
std::string json_list(const Items& items, Format format) {
    std::string out = "[";
    for (const auto& item : items) out += (out.size() > 1 ? ", " : "") + format(item);
    return out + "]";
}

std::string describe(const wire::Result& r) {
    std::ostringstream out;
    out << "{\"schema\": " << json_string(wire::SCHEMA) << ", \"stream\": " << json_string(r.stream)
        << ", \"seq\": " << r.seq << ", \"stamp_ns\": " << r.stamp_ns << ", \"publish_ns\": " << r.publish_ns
        << ", \"size\": [" << r.height << ", " << r.width << "]"
        << ", \"classes\": " << json_list(r.classes, json_string) << ", \"panoptic\": "
        << describe_array(r, "<u4", r.panoptic_codec, r.panoptic,
                          [](uint32_t v) { return std::to_string(v); })
        << ", \"depth\": "
        << describe_array(r, "<f2", r.depth_codec, r.depth,
                          [](uint16_t bits) { return json_double(wire::float16_to_double(bits)); })
        << ", \"segments\": " << json_list(r.segments, describe_segment) << ", \"latency_ms\": {";
    for (size_t i = 0; i < r.latency_ms.size(); ++i) {
        out << (i ? ", " : "") << json_string(r.latency_ms[i].first) << ": "
            << json_double(r.latency_ms[i].second);
    }
    out << "}, \"dropped\": " << r.dropped << ", \"state_reset\": " << (r.state_reset ? "true" : "false")
        << ", \"palette\": ";
    if (r.palette) {
        out << json_list(*r.palette, [](const std::array<uint8_t, 3>& c) {
            return "[" + std::to_string(c[0]) + ", " + std::to_string(c[1]) + ", " + std::to_string(c[2]) +
                   "]";
        });
    } else {
        out << "null";
    }
    out << ", \"things\": ";
    if (r.things) {
        out << json_list(*r.things, [](uint64_t c) { return std::to_string(c); });
    } else {
        out << "null";
    }
    out << "}";
    return out.str();
}

int fail(int code, const std::string& message) {
    std::cerr << "vkstream_decode: error: " << message << "\n";
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) {
        std::cout << USAGE;
        return 0;
    }
    if (args.empty() || args.size() > 2) {
        return fail(2, "expected FILE.msgpack [TOPIC], e.g. vkstream_decode docs/wire-samples/zstd.msgpack");
    }
    const std::string& path = args[0];
    std::error_code error;
    const auto size = std::filesystem::file_size(path, error);
    if (error) return fail(2, path + ": " + error.message());
    if (size > wire::MAX_PAYLOAD_BYTES) {
        return fail(1, path + ": payload of " + std::to_string(size) + " bytes exceeds " +
                           std::to_string(wire::MAX_PAYLOAD_BYTES));
    }
    std::ifstream file(path, std::ios::binary);
    const std::vector<char> payload((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    if (!file.good() && !file.eof()) return fail(2, path + ": cannot be read");
    try {
        const wire::Result result =
            wire::decode_message(args.size() == 2 ? args[1] : "", payload.data(), payload.size());
        std::cout << describe(result) << "\n";
    } catch (const wire::WireFormatError& e) {
        return fail(1, path + ": " + e.what());
    }
    return 0;
}
