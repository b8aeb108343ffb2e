// Arrays of wire format v1: {dtype, shape, codec, data} maps with the codecs raw, zstd, lz4 and png.
//
// Sizes are checked before anything is allocated: the declared shape must fit MAX_ARRAY_BYTES, a zstd
// frame must state exactly the shape's bytes (an lz4 frame too, when it states a size, and a PNG
// header the shape itself), and no decompressor gets room for more than the shape's bytes. So a
// hostile or corrupt message cannot make a planner decompress more than its declared shape.
#pragma once

#include <lz4frame.h>
#include <zstd.h>

#include <cstdint>
#include <memory>
#include <msgpack.hpp>
#include <string>
#include <vector>

#include "vkstream/wire/errors.hpp"
#include "vkstream/wire/fields.hpp"
#include "vkstream/wire/png.hpp"

namespace vkstream::wire {

/// Largest decoded array accepted (1 GiB), whatever a message declares.
inline constexpr uint64_t MAX_ARRAY_BYTES = uint64_t{1} << 30;

/// A decoded array: ``bytes`` are little-endian, C order, ``itemsize`` x product(``shape``) long.
struct Array {
    std::string dtype;  // numpy dtype string, e.g. "<u4"
    std::vector<uint64_t> shape;
    std::string codec;  // how it was sent
    size_t itemsize = 0;
    std::vector<uint8_t> bytes;
};

namespace detail {

inline std::string shape_text(const std::vector<uint64_t>& shape) {
    std::string text = "[";
    for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + "]";
}

/// The itemsize of a canonical little-endian numeric numpy dtype string ('<u4', '|u1', '<f2', ...).
inline size_t parse_dtype(const msgpack::object& o, const std::string& name) {
    const std::string text = o.type == msgpack::type::STR ? std::string(str_of(o)) : std::string();
    const std::string quoted = o.type == msgpack::type::STR ? "'" + text + "'" : "(a " + kind_of(&o) + ")";
    if (text.size() < 3 || (text[0] != '<' && text[0] != '|') ||
        std::string_view("biuf").find(text[1]) == std::string_view::npos) {
        throw MalformedMessage(name + ": dtype " + quoted +
                               " is not a little-endian numeric dtype such as '<u4'");
    }
    const std::string digits = text.substr(2);
    const char kind = text[1];
    size_t itemsize = 0;
    if (digits == "1" || digits == "2" || digits == "4" || digits == "8") itemsize = std::stoul(digits);
    const bool known = (kind == 'b' && itemsize == 1) || ((kind == 'i' || kind == 'u') && itemsize) ||
                       (kind == 'f' && itemsize >= 2);
    if (!known)
        throw MalformedMessage(name + ": dtype " + quoted + " is not a numpy dtype this client reads");
    const std::string canonical = std::string(1, itemsize == 1 ? '|' : '<') + kind + digits;
    if (canonical != text) {
        throw MalformedMessage(name + ": dtype " + quoted + " is not in canonical form ('" + canonical +
                               "')");
    }
    return itemsize;
}

inline std::vector<uint64_t> parse_shape(const msgpack::object& o, const std::string& name) {
    bool ok = o.type == msgpack::type::ARRAY && o.via.array.size <= 8;
    std::vector<uint64_t> shape;
    for (uint32_t i = 0; ok && i < o.via.array.size; ++i) {
        ok = o.via.array.ptr[i].type == msgpack::type::POSITIVE_INTEGER;
        if (ok) shape.push_back(o.via.array.ptr[i].via.u64);
    }
    if (!ok) throw MalformedMessage(name + ": shape must be a list of at most 8 non-negative ints");
    return shape;
}

inline std::vector<uint8_t> zstd_decode(const uint8_t* data, size_t size, uint64_t expected,
                                        const std::string& name) {
    const unsigned long long declared = ZSTD_getFrameContentSize(data, size);
    if (declared == ZSTD_CONTENTSIZE_ERROR) throw MalformedMessage(name + ": data is not a zstd frame");
    if (declared == ZSTD_CONTENTSIZE_UNKNOWN) {  // the wire format requires it, as the Python client does
        throw MalformedMessage(name + ": zstd frame does not store its content size");
    }
    if (declared != expected) {
        throw MalformedMessage(name + ": zstd frame holds " + std::to_string(declared) +
                               " bytes, the shape needs " + std::to_string(expected));
    }
    const size_t frame = ZSTD_findFrameCompressedSize(data, size);
    if (ZSTD_isError(frame)) {
        throw MalformedMessage(name + ": zstd data does not decompress (" + ZSTD_getErrorName(frame) + ")");
    }
    if (frame != size) throw MalformedMessage(name + ": data continues after the zstd frame");
    std::vector<uint8_t> out(expected);
    const size_t got = ZSTD_decompress(out.data(), out.size(), data, size);
    if (ZSTD_isError(got)) {
        throw MalformedMessage(name + ": zstd data does not decompress (" + ZSTD_getErrorName(got) + ")");
    }
    out.resize(got);
    return out;
}

inline std::vector<uint8_t> lz4_decode(const uint8_t* data, size_t size, uint64_t expected,
                                       const std::string& name) {
    LZ4F_dctx* raw_context = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&raw_context, LZ4F_VERSION))) throw std::bad_alloc();
    const std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)> context(
        raw_context, &LZ4F_freeDecompressionContext);
    LZ4F_frameInfo_t info{};
    size_t pos = size;
    size_t hint = LZ4F_getFrameInfo(context.get(), &info, data, &pos);
    if (LZ4F_isError(hint)) {
        throw MalformedMessage(name + ": data is not an lz4 frame (" + LZ4F_getErrorName(hint) + ")");
    }
    if (info.contentSize != 0 && info.contentSize != expected) {
        throw MalformedMessage(name + ": lz4 frame holds " + std::to_string(info.contentSize) +
                               " bytes, the shape needs " + std::to_string(expected));
    }
    std::vector<uint8_t> out(expected);
    size_t filled = 0;
    while (hint != 0) {  // 0: the frame is complete
        size_t produced = out.size() - filled, consumed = size - pos;
        hint = LZ4F_decompress(context.get(), out.data() + filled, &produced, data + pos, &consumed, nullptr);
        if (LZ4F_isError(hint)) {
            throw MalformedMessage(name + ": lz4 data does not decompress (" + LZ4F_getErrorName(hint) + ")");
        }
        pos += consumed, filled += produced;
        if (hint != 0 && produced == 0 && consumed == 0) {  // input used up, or the shape's bytes filled
            throw MalformedMessage(name + ": lz4 frame is truncated or larger than the shape's " +
                                   std::to_string(expected) + " bytes");
        }
    }
    if (pos != size) throw MalformedMessage(name + ": data continues after the lz4 frame");
    out.resize(filled);
    return out;
}

}  // namespace detail

/// The array of a wire map; every problem throws MalformedMessage naming ``name``.
inline Array decode_array(const msgpack::object* obj, const std::string& name) {
    using detail::kind_of;
    if (obj == nullptr || obj->type != msgpack::type::MAP) {
        throw MalformedMessage(name + ": expected an array map, got " + kind_of(obj));
    }
    std::string missing;
    for (const char* key : {"dtype", "shape", "codec", "data"}) {
        if (detail::find(*obj, key) == nullptr) missing += (missing.empty() ? "" : ", ") + std::string(key);
    }
    if (!missing.empty()) throw MalformedMessage(name + ": array map lacks " + missing);
    Array array;
    array.itemsize = detail::parse_dtype(*detail::find(*obj, "dtype"), name);
    array.dtype = std::string(detail::str_of(*detail::find(*obj, "dtype")));
    array.shape = detail::parse_shape(*detail::find(*obj, "shape"), name);
    const msgpack::object& codec = *detail::find(*obj, "codec");
    const msgpack::object& data = *detail::find(*obj, "data");
    if (data.type != msgpack::type::BIN) {
        throw MalformedMessage(name + ": data must be bin, got " + kind_of(&data));
    }

    uint64_t expected = array.itemsize;  // saturates just above the limit, so it cannot overflow
    for (uint64_t n : array.shape) {
        expected = n == 0 ? 0 : (expected > MAX_ARRAY_BYTES / n ? MAX_ARRAY_BYTES + 1 : expected * n);
    }
    if (expected > MAX_ARRAY_BYTES) {
        throw MalformedMessage(name + ": declared size of shape " + detail::shape_text(array.shape) + " of " +
                               array.dtype + " exceeds " + std::to_string(MAX_ARRAY_BYTES) + " bytes");
    }
    array.codec = codec.type == msgpack::type::STR ? std::string(detail::str_of(codec)) : std::string();
    const auto wrong_size = [&](size_t got) {
        return MalformedMessage(name + ": " + std::to_string(got) + " bytes of data for shape " +
                                detail::shape_text(array.shape) + " of " + array.dtype + " (" +
                                std::to_string(expected) + " bytes)");
    };
    const auto* bytes = reinterpret_cast<const uint8_t*>(data.via.bin.ptr);
    const size_t size = data.via.bin.size;
    if (array.codec == "raw") {
        if (size != expected) throw wrong_size(size);
        array.bytes.assign(bytes, bytes + size);
    } else if (array.codec == "zstd") {
        array.bytes = detail::zstd_decode(bytes, size, expected, name);
    } else if (array.codec == "lz4") {
        array.bytes = detail::lz4_decode(bytes, size, expected, name);
    } else if (array.codec == "png") {
        array.bytes = detail::png_decode(bytes, size, array.dtype, array.shape, name);
    } else {
        const std::string shown =
            codec.type == msgpack::type::STR ? "'" + array.codec + "'" : "(a " + kind_of(&codec) + ")";
        throw MalformedMessage(name + ": unknown codec " + shown + " (expected one of raw, zstd, lz4, png)");
    }
    if (array.bytes.size() != expected) throw wrong_size(array.bytes.size());
    return array;
}

}  // namespace vkstream::wire
