// vkstream_listen ENDPOINT COUNT [--timeout SECONDS]: a minimal C++ planner. Subscribes to every
// stream of a vkstream publisher, decodes each message and prints one line per message:
//
//     stream=<id> seq=<n> size=<W>x<H> segments=<k>
//
// and exits 0 after COUNT messages. A message that does not decode is reported on stderr and skipped.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "vkstream/wire.hpp"

namespace {

namespace wire = vkstream::wire;

const char* const USAGE =
    "usage: vkstream_listen ENDPOINT COUNT [--timeout SECONDS]\n"
    "Subscribe to every stream published at ENDPOINT (e.g. tcp://127.0.0.1:5560), decode each message\n"
    "(wire format v1) and print 'stream=<id> seq=<n> size=<W>x<H> segments=<k>' per message; exit 0\n"
    "after COUNT messages, 1 when --timeout SECONDS pass without a message, 2 for bad arguments.\n";

int usage_error(const std::string& message) {
    std::cerr << "vkstream_listen: error: " << message << "\n";
    return 2;
}

/// A positive whole number written in full, or 0.
unsigned long long parse_positive(const std::string& text) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return 0;
    errno = 0;
    const unsigned long long value = std::strtoull(text.c_str(), nullptr, 10);
    return errno == ERANGE ? 0 : value;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 1 && (args[0] == "-h" || args[0] == "--help")) {
        std::cout << USAGE;
        return 0;
    }
    if (args.size() != 2 && !(args.size() == 4 && args[2] == "--timeout")) {
        return usage_error(
            "expected ENDPOINT COUNT [--timeout SECONDS], e.g. vkstream_listen tcp://127.0.0.1:5560 10");
    }
    const std::string& endpoint = args[0];
    const std::string scheme = endpoint.substr(0, endpoint.find("://"));
    if (endpoint.find("://") == std::string::npos ||
        (scheme != "tcp" && scheme != "ipc" && scheme != "inproc")) {
        return usage_error("invalid endpoint '" + endpoint + "': expected tcp://HOST:PORT or ipc://PATH");
    }
    const unsigned long long count = parse_positive(args[1]);
    if (count == 0) return usage_error("COUNT must be a positive whole number, got '" + args[1] + "'");
    int timeout_ms = -1;  // wait for ever
    if (args.size() == 4) {
        const unsigned long long seconds = parse_positive(args[3]);
        if (seconds == 0 || seconds > 86400) {
            return usage_error("--timeout must be whole seconds from 1 to 86400, got '" + args[3] + "'");
        }
        timeout_ms = static_cast<int>(seconds * 1000);
    }

    zmq::context_t context;
    zmq::socket_t sub(context, zmq::socket_type::sub);
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::rcvtimeo, timeout_ms);
    sub.set(zmq::sockopt::subscribe, std::string(wire::DEFAULT_TOPIC_PREFIX) + "/");
    try {
        sub.connect(endpoint);
    } catch (const zmq::error_t& e) {
        return usage_error("cannot connect to '" + endpoint + "': " + e.what());
    }

    for (unsigned long long received = 0; received < count;) {
        std::vector<zmq::message_t> parts;
        if (!zmq::recv_multipart(sub, std::back_inserter(parts))) {
            std::cerr << "vkstream_listen: error: no message within " << args[3] << " s from " << endpoint
                      << " (" << received << " of " << count << " received)\n";
            return 1;
        }
        const std::string topic = parts[0].to_string();
        try {
            if (parts.size() != 2) {
                throw wire::MalformedMessage("expected a two-part message [topic, payload], got " +
                                             std::to_string(parts.size()) + " parts");
            }
            const wire::Result r = wire::decode_message(topic, parts[1].data(), parts[1].size());
            std::printf("stream=%s seq=%llu size=%ux%u segments=%zu\n", r.stream.c_str(),
                        static_cast<unsigned long long>(r.seq), r.width, r.height, r.segments.size());
            std::fflush(stdout);
            ++received;
        } catch (const wire::WireFormatError& e) {
            std::cerr << "vkstream_listen: skipped a message on '" << topic << "': " << e.what() << "\n";
        }
    }
    return 0;
}
