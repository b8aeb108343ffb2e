// Typed access to msgpack maps, with errors that name the offending key (as the Python client's do).
#pragma once

#include <cmath>
#include <cstdint>
#include <msgpack.hpp>
#include <string>
#include <string_view>

#include "vkstream/wire/errors.hpp"

namespace vkstream::wire::detail {

inline std::string kind_of(const msgpack::object* o) {
    if (o == nullptr) return "nothing";
    switch (o->type) {
        case msgpack::type::NIL:
            return "nil";
        case msgpack::type::BOOLEAN:
            return "bool";
        case msgpack::type::POSITIVE_INTEGER:
        case msgpack::type::NEGATIVE_INTEGER:
            return "int";
        case msgpack::type::FLOAT32:
        case msgpack::type::FLOAT64:
            return "float";
        case msgpack::type::STR:
            return "str";
        case msgpack::type::BIN:
            return "bin";
        case msgpack::type::ARRAY:
            return "array";
        case msgpack::type::MAP:
            return "map";
        default:
            return "ext";
    }
}

inline bool is_int(const msgpack::object* o) {
    return o != nullptr &&
           (o->type == msgpack::type::POSITIVE_INTEGER || o->type == msgpack::type::NEGATIVE_INTEGER);
}

inline bool is_number(const msgpack::object* o) {
    if (is_int(o)) return true;
    return o != nullptr && (o->type == msgpack::type::FLOAT32 || o->type == msgpack::type::FLOAT64) &&
           std::isfinite(o->via.f64);
}

/// The value of an int or float object (check is_number first).
inline double number_of(const msgpack::object& o) {
    if (o.type == msgpack::type::POSITIVE_INTEGER) return static_cast<double>(o.via.u64);
    if (o.type == msgpack::type::NEGATIVE_INTEGER) return static_cast<double>(o.via.i64);
    return o.via.f64;
}

inline std::string_view str_of(const msgpack::object& o) {
    return {o.via.str.ptr, o.via.str.size};
}

/// The value under ``key`` in a map whose keys are strings (checked on unpacking), or nullptr.
/// The last of repeated keys wins, as in Python's msgpack.
inline const msgpack::object* find(const msgpack::object& map, std::string_view key) {
    const msgpack::object* found = nullptr;
    for (uint32_t i = 0; i < map.via.map.size; ++i) {
        if (str_of(map.via.map.ptr[i].key) == key) found = &map.via.map.ptr[i].val;
    }
    return found;
}

/// The keys of one map, read with the checks of the wire format; ``where`` names it in errors.
class Fields {
public:
    Fields(const msgpack::object& map, std::string where) : map_(map), where_(std::move(where)) {}

    const msgpack::object* get(std::string_view key) const { return find(map_, key); }

    const msgpack::object& need(std::string_view key) const {
        const msgpack::object* value = find(map_, key);
        if (value == nullptr) throw MalformedMessage(where_ + " lacks '" + std::string(key) + "'");
        return *value;
    }

    const msgpack::object& typed(std::string_view key, msgpack::type::object_type type,
                                 const char* kind) const {
        const msgpack::object& value = need(key);
        if (value.type != type) fail(key, std::string("must be ") + kind + ", got " + kind_of(&value));
        return value;
    }

    std::string string(std::string_view key) const {
        return std::string(str_of(typed(key, msgpack::type::STR, "str")));
    }

    bool boolean(std::string_view key) const {
        return typed(key, msgpack::type::BOOLEAN, "bool").via.boolean;
    }

    uint64_t uint(std::string_view key) const {
        const msgpack::object& value = need(key);
        if (!is_int(&value)) fail(key, "must be int, got " + kind_of(&value));
        if (value.type == msgpack::type::NEGATIVE_INTEGER) {
            fail(key, "must be non-negative, got " + std::to_string(value.via.i64));
        }
        return value.via.u64;
    }

    double number(std::string_view key) const {
        const msgpack::object& value = need(key);
        if (!is_number(&value)) fail(key, "must be a finite number, got " + kind_of(&value));
        return number_of(value);
    }

    [[noreturn]] void fail(std::string_view key, const std::string& what) const {
        throw MalformedMessage(where_ + "." + std::string(key) + " " + what);
    }

    const std::string& where() const { return where_; }

private:
    const msgpack::object& map_;
    std::string where_;
};

inline bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t extra;
        uint32_t point;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1, point = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2, point = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3, point = c & 0x07;
        } else {
            return false;
        }
        if (i + extra >= s.size()) return false;  // truncated sequence
        for (size_t k = 1; k <= extra; ++k) {
            const auto next = static_cast<unsigned char>(s[i + k]);
            if ((next & 0xC0) != 0x80) return false;
            point = point << 6 | (next & 0x3F);
        }
        static constexpr uint32_t smallest[] = {0, 0x80, 0x800, 0x10000};
        if (point < smallest[extra] || point > 0x10FFFF || (point >= 0xD800 && point <= 0xDFFF)) return false;
        i += extra + 1;
    }
    return true;
}

/// What Python's msgpack checks while unpacking (strict map keys, UTF-8 strings), over a whole tree.
inline void check_tree(const msgpack::object& o) {
    if (o.type == msgpack::type::STR && !valid_utf8(str_of(o))) {
        throw MalformedMessage("payload holds a str that is not valid UTF-8");
    }
    if (o.type == msgpack::type::ARRAY) {
        for (uint32_t i = 0; i < o.via.array.size; ++i) check_tree(o.via.array.ptr[i]);
    } else if (o.type == msgpack::type::MAP) {
        for (uint32_t i = 0; i < o.via.map.size; ++i) {
            const msgpack::object& key = o.via.map.ptr[i].key;
            if (key.type != msgpack::type::STR) {
                throw MalformedMessage("payload holds a map key of type " + kind_of(&key) + ", expected str");
            }
            check_tree(key);
            check_tree(o.via.map.ptr[i].val);
        }
    }
}

}  // namespace vkstream::wire::detail
