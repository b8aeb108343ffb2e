// The png codec of wire format v1, decoded with libpng.
//
// Layouts by dtype: <u4 is 8-bit RGBA holding the value's bytes most significant first (R = bits 31-24,
// A = bits 7-0; alpha is data); <f2 is 16-bit grey of the binary16 bit patterns; |u1 / <u2 are 8- /
// 16-bit grey, or RGB / RGBA with a trailing axis of 3 / 4. The PNG header must match the declared
// shape exactly before any pixel memory is allocated.
#pragma once

#include <png.h>

#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "vkstream/wire/errors.hpp"

namespace vkstream::wire::detail {

/// What libpng reads from; trivially destructible, since libpng leaves its callbacks by longjmp.
struct PngInput {
    const uint8_t* data;
    size_t size;
    size_t pos;
    char error[256];
};

struct PngLayout {
    png_uint_32 width;
    png_uint_32 height;
    int color_type;
    int bit_depth;
};

inline const char* png_color_name(int color_type) {
    switch (color_type) {
        case PNG_COLOR_TYPE_GRAY:
            return "grey";
        case PNG_COLOR_TYPE_RGB:
            return "RGB";
        case PNG_COLOR_TYPE_RGBA:
            return "RGBA";
        case PNG_COLOR_TYPE_PALETTE:
            return "palette";
        case PNG_COLOR_TYPE_GRAY_ALPHA:
            return "grey+alpha";
        default:
            return "unknown-colour";
    }
}

inline void png_read_callback(png_structp png, png_bytep out, size_t n) {
    auto* in = static_cast<PngInput*>(png_get_io_ptr(png));
    if (n > in->size - in->pos) png_error(png, "the PNG data ends early");
    std::memcpy(out, in->data + in->pos, n);
    in->pos += n;
}

inline void png_error_callback(png_structp png, png_const_charp message) {
    auto* in = static_cast<PngInput*>(png_get_error_ptr(png));
    std::snprintf(in->error, sizeof in->error, "PNG does not decode (%s)", message);
    png_longjmp(png, 1);
}

inline void png_warning_callback(png_structp, png_const_charp) {}  // ancillary-chunk trouble only

/// Reads the image into ``out``, which is sized only after the header matched ``want``; false with
/// ``in.error`` set otherwise. libpng reports errors by longjmp back to the setjmp here, so every
/// local of this function is trivially destructible.
inline bool png_read(png_structp png, png_infop info, PngInput& in, const PngLayout& want,
                     std::vector<uint8_t>& out, std::vector<png_bytep>& rows) {
    if (setjmp(png_jmpbuf(png))) return false;
    png_set_read_fn(png, &in, png_read_callback);
    png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);  // sizes are checked against the shape
    png_read_info(png, info);
    png_uint_32 width = 0, height = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &width, &height, &depth, &color, &interlace, nullptr, nullptr);
    if (width != want.width || height != want.height || depth != want.bit_depth || color != want.color_type) {
        std::snprintf(in.error, sizeof in.error, "PNG decodes to %ux%u %d-bit %s, expected %ux%u %d-bit %s",
                      unsigned(width), unsigned(height), depth, png_color_name(color), unsigned(want.width),
                      unsigned(want.height), want.bit_depth, png_color_name(want.color_type));
        return false;
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const size_t row_bytes = png_get_rowbytes(png, info);
    out.resize(row_bytes * height);
    rows.resize(height);
    for (png_uint_32 y = 0; y < height; ++y) rows[y] = out.data() + y * row_bytes;
    png_read_image(png, rows.data());
    png_read_end(png, nullptr);  // the rest up to IEND, CRCs included
    return true;
}

/// The little-endian C-order bytes of a png-coded array of ``dtype`` and ``shape``.
inline std::vector<uint8_t> png_decode(const uint8_t* data, size_t size, const std::string& dtype,
                                       const std::vector<uint64_t>& shape, const std::string& name) {
    const bool grey_or_colour = dtype == "|u1" || dtype == "<u2";
    bool ok = grey_or_colour || dtype == "<u4" || dtype == "<f2";
    if (shape.size() == 2) {
        ok = ok && shape[0] > 0 && shape[1] > 0;
    } else {
        ok = ok && shape.size() == 3 && grey_or_colour && (shape[2] == 3 || shape[2] == 4) && shape[0] > 0 &&
             shape[1] > 0;
    }
    if (!ok) {
        std::string text;
        for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
        throw MalformedMessage(name + ": the png codec cannot hold " + dtype + " of shape [" + text + "]");
    }
    PngLayout want{};
    want.height = static_cast<png_uint_32>(shape[0]);  // both below 2^30: the array fits MAX_ARRAY_BYTES
    want.width = static_cast<png_uint_32>(shape[1]);
    want.bit_depth = (dtype == "<u2" || dtype == "<f2") ? 16 : 8;
    want.color_type = dtype == "<u4"      ? PNG_COLOR_TYPE_RGBA
                      : shape.size() == 2 ? PNG_COLOR_TYPE_GRAY
                      : shape[2] == 3     ? PNG_COLOR_TYPE_RGB
                                          : PNG_COLOR_TYPE_RGBA;

    static constexpr char iend[] = "IEND\xae\x42\x60\x82";
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0 || bytes.rfind(std::string_view(iend, 8)) == bytes.npos) {
        throw MalformedMessage(name + ": data is not a complete PNG");
    }
    PngInput in{data, size, 0, {}};
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &in, png_error_callback, png_warning_callback);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    struct Release {
        png_structp png;
        png_infop info;
        ~Release() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
    } release{png, info};
    if (png == nullptr || info == nullptr) throw std::bad_alloc();

    std::vector<uint8_t> out;
    std::vector<png_bytep> rows;
    if (!png_read(png, info, in, want, out, rows)) throw MalformedMessage(name + ": " + in.error);
    if (dtype == "<u4") {  // RGBA = the value's bytes, most significant first
        for (size_t i = 0; i + 4 <= out.size(); i += 4) {
            std::swap(out[i], out[i + 3]);
            std::swap(out[i + 1], out[i + 2]);
        }
    } else if (want.bit_depth == 16) {  // PNG stores 16-bit samples big-endian
        for (size_t i = 0; i + 2 <= out.size(); i += 2) std::swap(out[i], out[i + 1]);
    }
    return out;
}

}  // namespace vkstream::wire::detail
