// google.rpc.Status encoding (dataplane/otlp_http.c): the body of OTLP/HTTP protobuf errors and the
// grpc-status-details-bin of gRPC errors, with and without google.rpc.RetryInfo.
#include <gtest/gtest.h>

#include <string>

#include <cstddef>
#include <cstdint>

// dataplane/otlp_http.h pulls in C11 atomics (the rings), which C++ cannot include: the one
// function under test is declared here, as it is there.
extern "C" size_t lr_dp_rpc_status_encode(uint8_t *out, size_t cap, int code, const char *message,
                                          uint32_t retry_delay_s);

static std::string enc(int code, const char *msg, uint32_t delay, size_t cap = 1024)
{
    uint8_t out[1024];
    size_t n = lr_dp_rpc_status_encode(out, cap, code, msg, delay);
    return std::string(reinterpret_cast<char *>(out), n);
}

TEST(RpcStatus, CodeAndMessage)
{
    EXPECT_EQ(enc(3, "bad", 0), std::string("\x08\x03\x12\x03"
                                            "bad",
                                            7));
    // Code 0 is the default: not written.
    EXPECT_EQ(enc(0, "", 0), std::string("\x12\x00", 2));
}

TEST(RpcStatus, RetryInfoDetail)
{
    static const char url[] = "type.googleapis.com/google.rpc.RetryInfo";
    // Any{1: type_url, 2: RetryInfo{1: Duration{1: seconds = 1}}}
    std::string any = std::string("\x0a") + static_cast<char>(sizeof(url) - 1) + url +
                      std::string("\x12\x04\x0a\x02\x08\x01", 6);
    std::string want =
        std::string("\x08\x0e\x12\x04", 4) + "full" + "\x1a" + static_cast<char>(any.size()) + any;
    EXPECT_EQ(enc(14, "full", 1), want);
}

TEST(RpcStatus, MessageIsCutAtAUtf8Boundary)
{
    std::string m(200, 'a');
    m += "\xe2\x9c\x93"; // U+2713, 3 bytes
    for (size_t cap = 32; cap < 260; cap++) {
        std::string s = enc(3, m.c_str(), 0, cap);
        ASSERT_LE(s.size(), cap);
        ASSERT_GE(s.size(), 4u);
        size_t len = static_cast<uint8_t>(s[3]);
        if (len & 0x80)
            len = (len & 0x7f) | (static_cast<size_t>(static_cast<uint8_t>(s[4])) << 7);
        std::string body = s.substr(s.size() - len);
        // Never a partial UTF-8 sequence at the end.
        if (!body.empty() && (static_cast<uint8_t>(body.back()) & 0x80)) {
            EXPECT_EQ(body.substr(body.size() - 3), "\xe2\x9c\x93") << cap;
        }
    }
}
