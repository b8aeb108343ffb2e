// vkstream wire format v1 (docs/wire-format.md), header-only: decode what a vkstream publisher sends.
//
//     zmq::socket_t sub(context, zmq::socket_type::sub);
//     sub.set(zmq::sockopt::subscribe, "vkstream/");
//     sub.connect("tcp://127.0.0.1:5560");
//     std::vector<zmq::message_t> parts;                         // [topic, payload]
//     zmq::recv_multipart(sub, std::back_inserter(parts));
//     vkstream::wire::Result r = vkstream::wire::decode_message(parts[0].to_string_view(),
//                                                               parts[1].data(), parts[1].size());
//     for (const auto& s : r.segments) use(r.class_name(s), s.track, s.depth_m, s.xyz);
//
// Needs msgpack-cxx (headers), libzstd, liblz4 and libpng; examples/cpp/CMakeLists.txt shows the build.
#pragma once

#include "vkstream/wire/arrays.hpp"
#include "vkstream/wire/errors.hpp"
#include "vkstream/wire/float16.hpp"
#include "vkstream/wire/message.hpp"
