// Wire format v1 messages (`vkstream.result/1`, docs/wire-format.md): the payload and its typed form.
//
// decode_message() checks what the Python reference decoder (vkstream.client) checks and throws
// MalformedMessage or SchemaVersionError naming the offending key.
#pragma once

#include <array>
#include <cstdint>
#include <msgpack.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vkstream/wire/arrays.hpp"
#include "vkstream/wire/errors.hpp"
#include "vkstream/wire/fields.hpp"
#include "vkstream/wire/float16.hpp"

namespace vkstream::wire {

inline constexpr const char* SCHEMA = "vkstream.result/1";
inline constexpr const char* DEFAULT_TOPIC_PREFIX = "vkstream";
inline constexpr uint64_t MAX_PAYLOAD_BYTES = uint64_t{1} << 30;
inline constexpr int TRACK_BITS = 16;  // panoptic = class_id << 16 | track_id

/// One segment: a stuff region or one (tracked) thing. Its mask is ``panoptic == id``.
struct Segment {
    uint64_t id = 0;
    uint64_t class_id = 0;  // an index into Result::classes
    bool thing = false;
    uint64_t track = 0;  // 0 for stuff
    double score = 0;
    uint64_t area = 0;
    std::array<int64_t, 4> bbox{};  // x0, y0, x1, y1; x1/y1 exclusive
    double depth_m = 0;             // the segment's median depth in metres; 0: none
    // Camera-frame point in metres (X right, Y down, Z forward); none without intrinsics or depth.
    std::optional<std::array<double, 3>> xyz;
};

/// One published frame of one stream.
struct Result {
    std::string stream;
    uint64_t seq = 0;       // capture counter of the stream, from 0
    uint64_t stamp_ns = 0;  // capture time, Unix ns
    uint64_t publish_ns = 0;
    uint32_t height = 0;
    uint32_t width = 0;
    std::vector<std::string> classes;  // index = class id
    std::vector<uint32_t> panoptic;    // height x width, row-major: class_id << 16 | track_id
    std::vector<uint16_t> depth;       // height x width binary16 bit patterns, metres; 0 = no estimate
    std::vector<Segment> segments;     // ascending id
    std::vector<std::pair<std::string, double>> latency_ms;  // in message order; includes "total"
    uint64_t dropped = 0;  // frames of this stream dropped before publishing, so far
    bool state_reset = false;
    std::optional<std::vector<std::array<uint8_t, 3>>> palette;  // RGB per class, when sent
    std::optional<std::vector<uint64_t>> things;                 // tracked class ids, when sent
    std::string panoptic_codec, depth_codec;                     // as sent

    uint32_t class_at(size_t y, size_t x) const { return panoptic[y * width + x] >> TRACK_BITS; }
    uint32_t track_at(size_t y, size_t x) const { return panoptic[y * width + x] & 0xFFFF; }
    double depth_at(size_t y, size_t x) const { return float16_to_double(depth[y * width + x]); }
    const std::string& class_name(const Segment& s) const { return classes[s.class_id]; }
};

namespace detail {

inline Segment decode_segment(const msgpack::object& obj, size_t index, size_t num_classes) {
    const std::string where = "segments[" + std::to_string(index) + "]";
    if (obj.type != msgpack::type::MAP)
        throw MalformedMessage(where + " must be a map, got " + kind_of(&obj));
    const Fields f(obj, where);
    const msgpack::object& bbox = f.typed("bbox", msgpack::type::ARRAY, "array");
    bool ok = bbox.via.array.size == 4;
    Segment s;
    for (uint32_t i = 0; ok && i < 4; ++i) {
        const msgpack::object& v = bbox.via.array.ptr[i];
        ok = is_int(&v) && (v.type == msgpack::type::NEGATIVE_INTEGER || v.via.u64 <= uint64_t(INT64_MAX));
        if (ok) s.bbox[i] = v.via.i64;
    }
    if (!ok) f.fail("bbox", "must be [x0, y0, x1, y1] ints");
    const msgpack::object& xyz = f.need("xyz");
    if (xyz.type != msgpack::type::NIL) {
        ok = xyz.type == msgpack::type::ARRAY && xyz.via.array.size == 3;
        for (uint32_t i = 0; ok && i < 3; ++i) ok = is_number(&xyz.via.array.ptr[i]);
        if (!ok) f.fail("xyz", "must be [X, Y, Z] numbers or nil, got " + kind_of(&xyz));
        s.xyz = {number_of(xyz.via.array.ptr[0]), number_of(xyz.via.array.ptr[1]),
                 number_of(xyz.via.array.ptr[2])};
    }
    s.class_id = f.uint("class");
    if (s.class_id >= num_classes)
        f.fail("class", std::to_string(s.class_id) + " is not an index into classes");
    s.id = f.uint("id");
    s.thing = f.boolean("thing");
    s.track = f.uint("track");
    s.score = f.number("score");
    s.area = f.uint("area");
    s.depth_m = f.number("depth_m");
    return s;
}

inline void decode_palette(const msgpack::object* value, Result& r) {
    if (value == nullptr || value->type == msgpack::type::NIL) return;
    bool ok = value->type == msgpack::type::ARRAY && value->via.array.size == r.classes.size();
    std::vector<std::array<uint8_t, 3>> palette;
    for (uint32_t i = 0; ok && i < value->via.array.size; ++i) {
        const msgpack::object& c = value->via.array.ptr[i];
        ok = c.type == msgpack::type::ARRAY && c.via.array.size == 3;
        std::array<uint8_t, 3> rgb{};
        for (uint32_t k = 0; ok && k < 3; ++k) {
            const msgpack::object& v = c.via.array.ptr[k];
            ok = v.type == msgpack::type::POSITIVE_INTEGER && v.via.u64 <= 255;
            if (ok) rgb[k] = static_cast<uint8_t>(v.via.u64);
        }
        palette.push_back(rgb);
    }
    if (!ok) {
        throw MalformedMessage("palette must be one [R, G, B] (0-255) per class, " +
                               std::to_string(r.classes.size()) + " in all");
    }
    r.palette = std::move(palette);
}

inline void decode_things(const msgpack::object* value, Result& r) {
    if (value == nullptr || value->type == msgpack::type::NIL) return;
    bool ok = value->type == msgpack::type::ARRAY;
    std::vector<uint64_t> things;
    for (uint32_t i = 0; ok && i < value->via.array.size; ++i) {
        const msgpack::object& v = value->via.array.ptr[i];
        ok = v.type == msgpack::type::POSITIVE_INTEGER && v.via.u64 < r.classes.size();
        if (ok) things.push_back(v.via.u64);
    }
    if (!ok) {
        throw MalformedMessage("things must be a list of class ids below " +
                               std::to_string(r.classes.size()));
    }
    r.things = std::move(things);
}

inline Result decode_v1(const msgpack::object& obj, std::string_view topic) {
    const Fields f(obj, "payload");
    Result r;
    r.stream = f.string("stream");
    const std::string suffix = "/" + r.stream;
    if (!topic.empty() &&
        (topic.size() < suffix.size() || topic.substr(topic.size() - suffix.size()) != suffix)) {
        throw MalformedMessage("topic '" + std::string(topic) + "' does not end with the payload's stream '" +
                               suffix + "'");
    }
    const msgpack::object& size = f.typed("size", msgpack::type::ARRAY, "array");
    bool ok = size.via.array.size == 2;
    uint64_t hw[2] = {0, 0};
    for (uint32_t i = 0; ok && i < 2; ++i) {
        ok = size.via.array.ptr[i].type == msgpack::type::POSITIVE_INTEGER &&
             size.via.array.ptr[i].via.u64 > 0;
        if (ok) hw[i] = size.via.array.ptr[i].via.u64;
    }
    if (!ok) throw MalformedMessage("size must be [H, W] of positive ints");
    const msgpack::object& classes = f.typed("classes", msgpack::type::ARRAY, "array");
    for (uint32_t i = 0; i < classes.via.array.size; ++i) {
        if (classes.via.array.ptr[i].type != msgpack::type::STR) {
            throw MalformedMessage("classes must be a list of strings");
        }
        r.classes.emplace_back(str_of(classes.via.array.ptr[i]));
    }
    Array panoptic = decode_array(f.get("panoptic"), "panoptic");
    Array depth = decode_array(f.get("depth"), "depth");
    const std::vector<uint64_t> want{hw[0], hw[1]};
    const auto check = [&want](const char* name, const Array& array, const char* dtype) {
        if (array.dtype != dtype || array.shape != want) {
            throw MalformedMessage(std::string(name) + " must be " + dtype + " of size " + shape_text(want) +
                                   ", got " + array.dtype + " " + shape_text(array.shape));
        }
    };
    check("panoptic", panoptic, "<u4");
    check("depth", depth, "<f2");
    r.height = static_cast<uint32_t>(hw[0]);  // both checked against the arrays, which fit 1 GiB
    r.width = static_cast<uint32_t>(hw[1]);
    r.panoptic.resize(panoptic.bytes.size() / 4);
    for (size_t i = 0; i < r.panoptic.size(); ++i) {  // little-endian on the wire, whatever this host is
        const uint8_t* b = &panoptic.bytes[4 * i];
        r.panoptic[i] = uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
    }
    r.depth.resize(depth.bytes.size() / 2);
    for (size_t i = 0; i < r.depth.size(); ++i) {
        r.depth[i] = uint16_t(depth.bytes[2 * i] | depth.bytes[2 * i + 1] << 8);
    }
    r.panoptic_codec = panoptic.codec;
    r.depth_codec = depth.codec;

    const msgpack::object& segments = f.typed("segments", msgpack::type::ARRAY, "array");
    const msgpack::object& latency = f.typed("latency_ms", msgpack::type::MAP, "map");
    bool has_total = false;
    for (uint32_t i = 0; i < latency.via.map.size; ++i) {
        const msgpack::object& value = latency.via.map.ptr[i].val;
        if (!is_number(&value)) {
            throw MalformedMessage("latency_ms must map stage names to numbers and include 'total'");
        }
        r.latency_ms.emplace_back(str_of(latency.via.map.ptr[i].key), number_of(value));
        has_total = has_total || r.latency_ms.back().first == "total";
    }
    if (!has_total) throw MalformedMessage("latency_ms must map stage names to numbers and include 'total'");
    r.seq = f.uint("seq");
    r.stamp_ns = f.uint("stamp_ns");
    r.publish_ns = f.uint("publish_ns");
    for (uint32_t i = 0; i < segments.via.array.size; ++i) {
        r.segments.push_back(decode_segment(segments.via.array.ptr[i], i, r.classes.size()));
    }
    r.dropped = f.uint("dropped");
    r.state_reset = f.boolean("state_reset");
    decode_palette(f.get("palette"), r);
    decode_things(f.get("things"), r);
    return r;
}

}  // namespace detail

/// The result in a received message: ``topic`` is its first frame (empty: not checked), ``payload``
/// its second. Throws SchemaVersionError for another schema version, MalformedMessage for anything
/// else that does not follow the format; keys this version does not know are ignored.
inline Result decode_message(std::string_view topic, const void* payload, size_t size) {
    if (size > MAX_PAYLOAD_BYTES) {
        throw MalformedMessage("payload of " + std::to_string(size) + " bytes exceeds " +
                               std::to_string(MAX_PAYLOAD_BYTES));
    }
    // Limits as Python's msgpack sets them for one buffer: no container or string claims more
    // elements than there are bytes, so a few hostile bytes cannot make the unpacker allocate much.
    const msgpack::unpack_limit limit(size, size / 2, size, size, size, 64);
    msgpack::object_handle handle;
    size_t offset = 0;
    try {
        handle = msgpack::unpack(static_cast<const char*>(payload), size, offset, nullptr, nullptr, limit);
    } catch (const std::exception& e) {
        throw MalformedMessage(std::string("payload is not a msgpack map (") + e.what() + ")");
    }
    const msgpack::object& obj = handle.get();
    if (offset != size) {
        throw MalformedMessage("payload holds " + std::to_string(size - offset) +
                               " bytes after its msgpack map");
    }
    if (obj.type != msgpack::type::MAP) {
        throw MalformedMessage("payload is a msgpack " + detail::kind_of(&obj) + ", expected a map");
    }
    detail::check_tree(obj);
    const msgpack::object* schema = detail::find(obj, "schema");
    if (schema == nullptr || schema->type != msgpack::type::STR) {
        throw MalformedMessage(std::string("payload has no 'schema' string (expected '") + SCHEMA + "')");
    }
    if (detail::str_of(*schema) != SCHEMA)
        throw SchemaVersionError(std::string(detail::str_of(*schema)), SCHEMA);
    return detail::decode_v1(obj, topic);
}

}  // namespace vkstream::wire
