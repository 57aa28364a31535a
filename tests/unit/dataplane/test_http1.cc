// Tests for dataplane/http1.c: table-driven vectors, each fed whole, split in two at every offset,
// byte at a time, and cut at every prefix followed by EOF; plus 100-continue, compression (and a
// gzip bomb), timeouts, backpressure and the captured requests of the OpenTelemetry JS exporters.
#include <gtest/gtest.h>

#include "unit/fixtures.h"
#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "../../../dataplane/codec.h"
#include "../../../dataplane/http1_internal.h"
#include "linerate/error.h"
#include "linerate/http1.h"
}

namespace
{

constexpr uint64_t kSec = 1000000000ull;

lr_http1_limits test_limits()
{
    lr_http1_limits l{};
    l.max_header_bytes = 1024;
    l.max_headers = 16;
    l.max_body_bytes = 4096;
    l.header_timeout_ns = 1 * kSec;
    l.idle_timeout_ns = 5 * kSec;
    l.body_timeout_ns = 2 * kSec;
    return l;
}

std::string S(lr_slice s)
{
    return s.len ? std::string(reinterpret_cast<const char *>(s.p), s.len) : std::string();
}

std::string show_body(lr_slice b)
{
    std::string s = S(b);
    bool printable = s.size() <= 64;
    for (unsigned char ch : s)
        printable = printable && ch >= 0x20 && ch < 0x7f;
    if (printable)
        return s;
    uint32_t crc = (uint32_t)crc32(0, b.p, (uInt)b.len);
    char buf[64];
    snprintf(buf, sizeof(buf), "<%zu bytes crc %08x>", b.len, crc);
    return buf;
}

// The handler records every call as one line.
struct Rec {
    std::vector<std::string> ev;
    std::vector<std::string> bodies;
    std::vector<std::string> reasons; // on_error's reason, one per error
    size_t resp_body_bytes = 0;       // on_request answers with this many 'x' (backpressure test)
    std::string big;
    bool close_after = false;
};

int on_headers(void *ctx, const lr_http_req *req, const char **reason)
{
    Rec *r = static_cast<Rec *>(ctx);
    std::string path = S(req->path);
    r->ev.push_back("hdr " + S(req->method) + " " + path);
    if (path == "/404") {
        *reason = "no such path";
        return LR_E_NOT_FOUND;
    }
    if (path == "/405") {
        *reason = "method";
        return LR_E_METHOD;
    }
    if (path == "/415") {
        *reason = "media type";
        return LR_E_MEDIA_TYPE;
    }
    return 0;
}

void on_request(void *ctx, const lr_http_req *req, lr_http_resp *resp)
{
    Rec *r = static_cast<Rec *>(ctx);
    std::string e = "req " + S(req->method) + " " + S(req->target) + " path=" + S(req->path) +
                    " 1." + std::to_string(req->version_minor) +
                    " ka=" + std::to_string(req->keep_alive) + " ct=" + S(req->content_type) +
                    " ce=" + S(req->content_encoding) + " body=" + show_body(req->body);
    for (uint32_t i = 0; i < req->n_headers; i++)
        if (S(req->headers[i].name) == "X-Check")
            e += " x-check=" + S(req->headers[i].value);
    r->ev.push_back(e);
    r->bodies.push_back(S(req->body));
    resp->status = 200;
    resp->content_type = "text/plain";
    if (r->resp_body_bytes) {
        r->big.assign(r->resp_body_bytes, 'x');
        resp->body = lr_slice_make(r->big.data(), r->big.size());
    } else {
        resp->body = LR_SLICE_LIT("ok");
    }
    resp->close = r->close_after;
}

void on_error(void *ctx, const lr_http_req *req, int err, const char *reason, lr_http_resp *resp)
{
    Rec *r = static_cast<Rec *>(ctx);
    EXPECT_NE(reason, nullptr);
    r->reasons.push_back(reason ? reason : "");
    r->ev.push_back("err " + std::to_string(resp->status) + " " +
                    (req ? S(req->method) + " " + S(req->path) : std::string("-")) +
                    (err == LR_E_TIMEOUT ? " timeout" : ""));
}

lr_http_handler handler_for(Rec *r)
{
    lr_http_handler h{};
    h.on_headers = on_headers;
    h.on_request = on_request;
    h.on_error = on_error;
    h.ctx = r;
    return h;
}

const std::string OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";
const std::string OK_CLOSE = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: "
                             "text/plain\r\nConnection: close\r\n\r\nok";
const std::string OK_KA10 = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n"
                            "Connection: keep-alive\r\n\r\nok";
const std::string CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n";

std::string err_resp(int status, const char *reason, bool close = true)
{
    return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Length: 0\r\n" +
           (close ? "Connection: close\r\n" : "") + "\r\n";
}

struct Result {
    std::vector<std::string> ev;
    std::string out;
    bool closing = false;
    ssize_t last_rc = 0;
    uint64_t requests = 0;
};

// Feeds `in` in the pieces `cuts` describes (offsets where a new feed starts), collecting all
// output. Stops feeding at the first negative return, as a transport would.
Result drive(const std::string &in, const std::vector<size_t> &cuts, bool eof = false,
             lr_http1_limits lim = test_limits())
{
    Rec rec;
    lr_http_handler h = handler_for(&rec);
    lr_http1_conn *c = lr_http1_conn_new(&lim, &h, 0);
    EXPECT_NE(c, nullptr);
    Result res;
    size_t prev = 0;
    std::vector<size_t> ends = cuts;
    ends.push_back(in.size());
    for (size_t end : ends) {
        if (end < prev)
            continue;
        size_t n = end - prev;
        ssize_t rc =
            lr_http1_conn_feed(c, reinterpret_cast<const uint8_t *>(in.data()) + prev, n, 0);
        prev = end;
        lr_slice o = lr_http1_conn_output(c);
        res.out += S(o);
        lr_http1_conn_output_consumed(c, o.len);
        res.last_rc = rc;
        if (rc < 0)
            break;
        EXPECT_EQ(rc, (ssize_t)n); // all consumed
    }
    if (eof && res.last_rc >= 0) {
        int rc = lr_http1_conn_eof(c);
        EXPECT_TRUE(rc == 0 || rc == LR_E_MALFORMED);
        EXPECT_TRUE(lr_http1_conn_closing(c));
        lr_slice o = lr_http1_conn_output(c);
        res.out += S(o);
    }
    res.closing = lr_http1_conn_closing(c);
    res.requests = lr_http1_conn_requests(c);
    res.ev = rec.ev;
    lr_http1_conn_free(c);
    return res;
}

struct Vec {
    std::string name;
    std::string in;
    std::vector<std::string> ev;
    std::string out;
    bool close;
    bool split_invariant = true;
};

std::string gzip_of(const std::string &s, int wbits)
{
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::string out(deflateBound(&z, s.size()) + 64, '\0');
    z.next_in = (Bytef *)s.data();
    z.avail_in = (uInt)s.size();
    z.next_out = (Bytef *)&out[0];
    z.avail_out = (uInt)out.size();
    EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

std::string codec_enc(lr_dp_codec c, const std::string &s)
{
    lr_dp_buf b{};
    EXPECT_EQ(lr_dp_codec_encode(c, reinterpret_cast<const uint8_t *>(s.data()), s.size(), &b), 0);
    std::string o(reinterpret_cast<const char *>(b.p), b.len);
    free(b.p);
    return o;
}

std::string chunked(const std::string &body, size_t piece)
{
    std::string o;
    char buf[32];
    for (size_t i = 0; i < body.size(); i += piece) {
        size_t n = std::min(piece, body.size() - i);
        snprintf(buf, sizeof(buf), "%zx\r\n", n);
        o += buf + body.substr(i, n) + "\r\n";
    }
    return o + "0\r\n\r\n";
}

std::string req_line(const std::string &m, const std::string &path, const std::string &hdrs,
                     const std::string &body)
{
    return m + " " + path + " HTTP/1.1\r\nHost: test\r\n" + hdrs + "\r\n" + body;
}

std::string clreq(const std::string &path, const std::string &body, const std::string &extra = "")
{
    return req_line("POST", path, extra + "Content-Length: " + std::to_string(body.size()) + "\r\n",
                    body);
}

std::string reqev(const std::string &m, const std::string &target, const std::string &body,
                  const std::string &ct = "", const std::string &ce = "", int minor = 1, int ka = 1)
{
    std::string path = target.substr(0, target.find('?'));
    return "req " + m + " " + target + " path=" + path + " 1." + std::to_string(minor) +
           " ka=" + std::to_string(ka) + " ct=" + ct + " ce=" + ce +
           " body=" + show_body(lr_slice_make(body.data(), body.size()));
}

std::vector<Vec> vectors()
{
    std::vector<Vec> v;
    const std::string text = "The quick brown fox jumps over the lazy dog. 0123456789 "
                             "The quick brown fox jumps over the lazy dog again.";

    v.push_back({ "post_content_length",
                  "POST /v1/traces HTTP/1.1\r\nHost: a\r\nContent-Type:  application/x-protobuf ;"
                  " charset=x \r\nContent-Length: 5\r\nX-Check:  v  \r\n\r\nhello",
                  { "hdr POST /v1/traces",
                    reqev("POST", "/v1/traces", "hello", "application/x-protobuf") + " x-check=v" },
                  OK,
                  false });
    v.push_back({ "get_query_no_body",
                  "GET /p?q=1&r HTTP/1.1\r\nhost: x\r\n\r\n",
                  { "hdr GET /p", reqev("GET", "/p?q=1&r", "") },
                  OK,
                  false });
    v.push_back({ "leading_empty_lines",
                  "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
                  { "hdr GET /", reqev("GET", "/", "") },
                  OK,
                  false });
    v.push_back({ "duplicate_equal_content_length",
                  clreq("/d", "abc", "Content-Length: 3\r\n"),
                  { "hdr POST /d", reqev("POST", "/d", "abc") },
                  OK,
                  false });
    v.push_back({ "chunked",
                  req_line("POST", "/c", "Transfer-Encoding: chunked\r\n",
                           "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
                  { "hdr POST /c", reqev("POST", "/c", "hello world") },
                  OK,
                  false });
    v.push_back({ "chunked_ext_trailers",
                  req_line("POST", "/c", "transfer-encoding: Chunked\r\n",
                           "5;foo=bar\r\nhello\r\nA ; x=\"y\"\r\n0123456789\r\n000;last\r\n"
                           "X-Trailer: 1\r\nOther:two\r\n\r\n"),
                  { "hdr POST /c", reqev("POST", "/c", "hello0123456789") },
                  OK,
                  false });
    v.push_back(
        { "pipelined_three",
          req_line("GET", "/a", "", "") + clreq("/b", "abc") +
              req_line("POST", "/c", "Transfer-Encoding: chunked\r\n", "2\r\nxy\r\n0\r\n\r\n"),
          { "hdr GET /a", reqev("GET", "/a", ""), "hdr POST /b", reqev("POST", "/b", "abc"),
            "hdr POST /c", reqev("POST", "/c", "xy") },
          OK + OK + OK,
          false });
    v.push_back({ "http10_close",
                  "POST /x HTTP/1.0\r\nContent-Length: 2\r\n\r\nhiGET / HTTP/1.0\r\n\r\n",
                  { "hdr POST /x", reqev("POST", "/x", "hi", "", "", 0, 0) },
                  OK_CLOSE,
                  true });
    v.push_back({ "http10_keep_alive",
                  "GET /1 HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
                  { "hdr GET /1", reqev("GET", "/1", "", "", "", 0, 1), "hdr GET /2",
                    reqev("GET", "/2", "", "", "", 0, 0) },
                  OK_KA10 + OK_CLOSE,
                  true });
    v.push_back(
        { "connection_close_stops_pipeline",
          req_line("GET", "/1", "Connection: foo, close\r\n", "") + req_line("GET", "/2", "", ""),
          { "hdr GET /1", reqev("GET", "/1", "", "", "", 1, 0) },
          OK_CLOSE,
          true });
    {
        std::string gz = gzip_of(text, 16 + 15);
        v.push_back({ "gzip_content_length",
                      clreq("/g", gz, "Content-Encoding: gzip\r\n"),
                      { "hdr POST /g", reqev("POST", "/g", text, "", "gzip") },
                      OK,
                      false });
        v.push_back(
            { "x_gzip_chunked",
              req_line("POST", "/g", "Content-Encoding: x-gzip\r\nTransfer-Encoding: chunked\r\n",
                       chunked(gz, 7)),
              { "hdr POST /g", reqev("POST", "/g", text, "", "x-gzip") },
              OK,
              false });
        v.push_back({ "gzip_two_members",
                      clreq("/g", gz + gz, "Content-Encoding: gzip\r\n"),
                      { "hdr POST /g", reqev("POST", "/g", text + text, "", "gzip") },
                      OK,
                      false });
        std::string zl = gzip_of(text, 15);
        v.push_back({ "deflate_zlib",
                      clreq("/z", zl, "Content-Encoding: deflate\r\n"),
                      { "hdr POST /z", reqev("POST", "/z", text, "", "deflate") },
                      OK,
                      false });
        std::string raw = gzip_of(text, -15);
        v.push_back(
            { "deflate_raw",
              req_line("POST", "/z", "Content-Encoding: Deflate\r\nTransfer-Encoding: chunked\r\n",
                       chunked(raw, 1)),
              { "hdr POST /z", reqev("POST", "/z", text, "", "Deflate") },
              OK,
              false });
        v.push_back({ "identity_encoding",
                      clreq("/i", "abc", "Content-Encoding: identity\r\n"),
                      { "hdr POST /i", reqev("POST", "/i", "abc", "", "identity") },
                      OK,
                      false });
        v.push_back({ "gzip_truncated",
                      clreq("/g", gz.substr(0, gz.size() - 4), "Content-Encoding: gzip\r\n"),
                      { "hdr POST /g", "err 400 POST /g" },
                      err_resp(400, "Bad Request"),
                      true });
        v.push_back({ "gzip_garbage",
                      clreq("/g", "not gzip at all", "Content-Encoding: gzip\r\n"),
                      { "hdr POST /g", "err 400 POST /g" },
                      err_resp(400, "Bad Request"),
                      true });
    }

    // Every other coding the Collector accepts, with Content-Length and chunked, plus truncated
    // and corrupt bodies. zstd/snappy/lz4 are buffered and decoded at the end; zlib streams.
    {
        struct {
            const char *ce;
            lr_dp_codec enc;
        } codings[] = {
            { "zlib", LR_CODEC_ZLIB },
            { "zstd", LR_CODEC_ZSTD },
            { "snappy", LR_CODEC_SNAPPY },
            { "snappy", LR_CODEC_SNAPPY_FRAMED }, // older Collectors sent framed as "snappy"
            { "x-snappy-framed", LR_CODEC_SNAPPY_FRAMED },
            { "LZ4", LR_CODEC_LZ4 },
        };
        for (const auto &cd : codings) {
            std::string z = codec_enc(cd.enc, text);
            std::string nm = std::string(lr_dp_codec_name(cd.enc)) + "_as_" + cd.ce;
            for (char &ch : nm)
                ch = ch == '-' ? '_' : ch;
            std::string ce = std::string("Content-Encoding: ") + cd.ce + "\r\n";
            v.push_back({ nm + "_content_length",
                          clreq("/c", z, ce) + req_line("GET", "/n", "", ""),
                          { "hdr POST /c", reqev("POST", "/c", text, "", cd.ce), "hdr GET /n",
                            reqev("GET", "/n", "") },
                          OK + OK,
                          false });
            v.push_back(
                { nm + "_chunked",
                  req_line("POST", "/c", ce + "Transfer-Encoding: chunked\r\n", chunked(z, 5)),
                  { "hdr POST /c", reqev("POST", "/c", text, "", cd.ce) },
                  OK,
                  false });
            v.push_back({ nm + "_truncated",
                          clreq("/c", z.substr(0, z.size() - 3), ce),
                          { "hdr POST /c", "err 400 POST /c" },
                          err_resp(400, "Bad Request"),
                          true });
            std::string bad = z;
            bad[bad.size() / 2] = (char)(bad[bad.size() / 2] ^ 0x5a);
            if (cd.enc != LR_CODEC_SNAPPY) // block snappy has no checksum
                v.push_back({ nm + "_corrupt",
                              clreq("/c", bad, ce),
                              { "hdr POST /c", "err 400 POST /c" },
                              err_resp(400, "Bad Request"),
                              true });
            v.push_back({ nm + "_garbage",
                          clreq("/c", "\x01not compressed at all", ce),
                          { "hdr POST /c", "err 400 POST /c" },
                          err_resp(400, "Bad Request"),
                          true });
            v.push_back({ nm + "_empty_body",
                          clreq("/c", "", ce),
                          { "hdr POST /c", reqev("POST", "/c", "", "", cd.ce) },
                          OK,
                          false });
        }
    }

    // Refusals: a small Content-Length body is skipped and the connection kept.
    v.push_back({ "refuse_404_skip_body",
                  clreq("/404", "12345") + req_line("GET", "/ok", "", ""),
                  { "hdr POST /404", "err 404 POST /404", "hdr GET /ok", reqev("GET", "/ok", "") },
                  err_resp(404, "Not Found", false) + OK,
                  false });
    v.push_back({ "refuse_405_no_body",
                  req_line("DELETE", "/405", "", "") + req_line("GET", "/", "", ""),
                  { "hdr DELETE /405", "err 405 DELETE /405", "hdr GET /", reqev("GET", "/", "") },
                  err_resp(405, "Method Not Allowed", false) + OK,
                  false });
    v.push_back({ "refuse_415_handler",
                  clreq("/415", "x"),
                  { "hdr POST /415", "err 415 POST /415" },
                  err_resp(415, "Unsupported Media Type", false),
                  false });
    v.push_back({ "refuse_415_encoding",
                  clreq("/e", "xyz", "Content-Encoding: br\r\n") + req_line("GET", "/", "", ""),
                  { "err 415 POST /e", "hdr GET /", reqev("GET", "/", "") },
                  err_resp(415, "Unsupported Media Type", false) + OK,
                  false });
    v.push_back({ "refuse_chunked_closes",
                  req_line("POST", "/404", "Transfer-Encoding: chunked\r\n", "1\r\na\r\n0\r\n\r\n"),
                  { "hdr POST /404", "err 404 POST /404" },
                  err_resp(404, "Not Found"),
                  true });

    // Framing errors: 400 and close.
    const std::string bad = err_resp(400, "Bad Request");
    v.push_back({ "bad_request_line", "GARBAGE\r\n\r\n", { "err 400 -" }, bad, true });
    v.push_back({ "bad_version", "GET / HTTP/2.0\r\n\r\n", { "err 400 -" }, bad, true });
    v.push_back({ "space_in_target", "GET /a b HTTP/1.1\r\n\r\n", { "err 400 -" }, bad, true });
    v.push_back({ "bare_lf", "GET / HTTP/1.1\nHost: a\n\n", { "err 400 -" }, bad, true });
    v.push_back(
        { "bare_lf_header", "GET / HTTP/1.1\r\nHost: a\n\r\n", { "err 400 GET /" }, bad, true });
    v.push_back({ "space_before_colon",
                  "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
                  { "err 400 GET /" },
                  bad,
                  true });
    v.push_back({ "obs_fold",
                  "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
                  { "err 400 GET /" },
                  bad,
                  true });
    v.push_back(
        { "bad_token", "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", { "err 400 GET /" }, bad, true });
    v.push_back({ "ctl_in_value",
                  std::string("GET / HTTP/1.1\r\nHost: a\001b\r\n\r\n"),
                  { "err 400 GET /" },
                  bad,
                  true });
    v.push_back({ "missing_host", "GET / HTTP/1.1\r\n\r\n", { "err 400 GET /" }, bad, true });
    v.push_back({ "two_hosts",
                  "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                  { "err 400 GET /" },
                  bad,
                  true });
    v.push_back({ "cl_and_te",
                  req_line("POST", "/s", "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
                           "0\r\n\r\n"),
                  { "err 400 POST /s" },
                  bad,
                  true });
    v.push_back({ "te_in_http10",
                  "POST /s HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                  { "err 400 POST /s" },
                  bad,
                  true });
    v.push_back({ "cl_differs",
                  clreq("/d", "abc", "Content-Length: 4\r\n"),
                  { "err 400 POST /d" },
                  bad,
                  true });
    v.push_back({ "cl_negative",
                  req_line("POST", "/n", "Content-Length: -1\r\n", ""),
                  { "err 400 POST /n" },
                  bad,
                  true });
    v.push_back({ "cl_list",
                  req_line("POST", "/n", "Content-Length: 1, 1\r\n", "a"),
                  { "err 400 POST /n" },
                  bad,
                  true });
    v.push_back({ "cl_overflow",
                  req_line("POST", "/n", "Content-Length: 99999999999999999999999\r\n", ""),
                  { "err 400 POST /n" },
                  bad,
                  true });
    v.push_back({ "chunk_size_bad",
                  req_line("POST", "/c", "Transfer-Encoding: chunked\r\n", "zz\r\n"),
                  { "hdr POST /c", "err 400 POST /c" },
                  bad,
                  true });
    v.push_back({ "chunk_size_overflow",
                  req_line("POST", "/c", "Transfer-Encoding: chunked\r\n", "11111111111111111\r\n"),
                  { "hdr POST /c", "err 400 POST /c" },
                  bad,
                  true });
    v.push_back({ "chunk_missing_crlf",
                  req_line("POST", "/c", "Transfer-Encoding: chunked\r\n", "2\r\nabX\r\n"),
                  { "hdr POST /c", "err 400 POST /c" },
                  bad,
                  true });
    v.push_back({ "chunked_twice",
                  req_line("POST", "/c", "Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"),
                  { "err 400 POST /c" },
                  bad,
                  true });

    // Limits.
    v.push_back({ "413_by_content_length",
                  req_line("POST", "/big", "Content-Length: 5000\r\n", "abc"),
                  { "err 413 POST /big" },
                  err_resp(413, "Content Too Large"),
                  true });
    v.push_back({ "413_by_chunked",
                  req_line("POST", "/big", "Transfer-Encoding: chunked\r\n",
                           chunked(std::string(5000, 'a'), 1000)),
                  { "hdr POST /big", "err 413 POST /big" },
                  err_resp(413, "Content Too Large"),
                  true });
    v.push_back({ "431_header_bytes",
                  req_line("GET", "/", "X-Long: " + std::string(1100, 'v') + "\r\n", ""),
                  { "err 431 GET /" },
                  err_resp(431, "Request Header Fields Too Large"),
                  true });
    {
        std::string many;
        for (int i = 0; i < 16; i++)
            many += "X-H" + std::to_string(i) + ": v\r\n";
        v.push_back({ "431_header_count",
                      req_line("GET", "/", many, ""),
                      { "err 431 GET /" },
                      err_resp(431, "Request Header Fields Too Large"),
                      true });
    }
    v.push_back({ "501_transfer_coding",
                  req_line("POST", "/t", "Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"),
                  { "err 501 POST /t" },
                  err_resp(501, "Not Implemented"),
                  true });
    return v;
}

void PrintTo(const Vec &v, std::ostream *os)
{
    *os << v.name;
}

class Vectors : public ::testing::TestWithParam<Vec>
{
};

std::string joined(const std::vector<std::string> &v)
{
    std::string s;
    for (const auto &e : v)
        s += e + "\n";
    return s;
}

TEST_P(Vectors, Whole)
{
    const Vec &v = GetParam();
    Result r = drive(v.in, {});
    EXPECT_EQ(joined(r.ev), joined(v.ev));
    EXPECT_EQ(r.out, v.out);
    EXPECT_EQ(r.closing, v.close);
    EXPECT_EQ(r.last_rc < 0, v.close);
}

TEST_P(Vectors, EverySplitAndByteAtATime)
{
    const Vec &v = GetParam();
    if (!v.split_invariant)
        GTEST_SKIP();
    for (size_t k = 0; k <= v.in.size(); k++) {
        Result r = drive(v.in, { k });
        ASSERT_EQ(joined(r.ev), joined(v.ev)) << "split at " << k;
        ASSERT_EQ(r.out, v.out) << "split at " << k;
        ASSERT_EQ(r.closing, v.close) << "split at " << k;
    }
    std::vector<size_t> cuts;
    for (size_t k = 1; k < v.in.size(); k++)
        cuts.push_back(k);
    Result r = drive(v.in, cuts);
    EXPECT_EQ(joined(r.ev), joined(v.ev));
    EXPECT_EQ(r.out, v.out);
    EXPECT_EQ(r.closing, v.close);
}

TEST_P(Vectors, EveryPrefixThenEof)
{
    const Vec &v = GetParam();
    for (size_t k = 0; k < v.in.size(); k++) {
        Result r = drive(v.in.substr(0, k), {}, true);
        ASSERT_TRUE(r.closing);
        // A cut request is never delivered: what happened is a prefix of the full run.
        ASSERT_LE(r.ev.size(), v.ev.size()) << "prefix " << k;
        for (size_t i = 0; i < r.ev.size(); i++)
            ASSERT_EQ(r.ev[i], v.ev[i]) << "prefix " << k;
        ASSERT_EQ(r.out, v.out.substr(0, r.out.size())) << "prefix " << k;
    }
}

INSTANTIATE_TEST_SUITE_P(Http1, Vectors, ::testing::ValuesIn(vectors()),
                         [](const ::testing::TestParamInfo<Vec> &i) { return i.param.name; });

// ---- connection-level behaviour ------------------------------------------------------------

struct Conn {
    Rec rec;
    lr_http_handler h;
    lr_http1_conn *c;
    explicit Conn(lr_http1_limits lim = test_limits(), uint64_t now = 0)
    {
        h = handler_for(&rec);
        c = lr_http1_conn_new(&lim, &h, now);
        EXPECT_NE(c, nullptr);
    }
    ~Conn() { lr_http1_conn_free(c); }
    ssize_t feed(const std::string &s, uint64_t now = 0)
    {
        return lr_http1_conn_feed(c, reinterpret_cast<const uint8_t *>(s.data()), s.size(), now);
    }
    std::string take()
    {
        lr_slice o = lr_http1_conn_output(c);
        std::string s = S(o);
        lr_http1_conn_output_consumed(c, o.len);
        return s;
    }
};

TEST(Http1, KeepAliveAcrossFeeds)
{
    Conn k;
    for (int i = 0; i < 5; i++) {
        std::string r = clreq("/v1/logs", "body" + std::to_string(i));
        EXPECT_EQ(k.feed(r.substr(0, 20), i * kSec), 20);
        EXPECT_EQ(k.take(), "");
        EXPECT_EQ(k.feed(r.substr(20), i * kSec), (ssize_t)(r.size() - 20));
        EXPECT_EQ(k.take(), OK);
        EXPECT_FALSE(lr_http1_conn_closing(k.c));
        EXPECT_EQ(lr_http1_conn_tick(k.c, i * kSec + kSec / 2), 0);
    }
    EXPECT_EQ(lr_http1_conn_requests(k.c), 5u);
    EXPECT_EQ(k.rec.bodies.back(), "body4");
    EXPECT_EQ(lr_http1_conn_eof(k.c), 0);
    EXPECT_TRUE(lr_http1_conn_closing(k.c));
}

TEST(Http1, ExpectContinue)
{
    Conn k;
    std::string head =
        req_line("POST", "/v1/traces", "Expect: 100-continue\r\nContent-Length: 5\r\n", "");
    EXPECT_EQ(k.feed(head), (ssize_t)head.size());
    EXPECT_EQ(k.take(), CONTINUE);
    EXPECT_EQ(k.feed("hel"), 3);
    EXPECT_EQ(k.feed("lo"), 2);
    EXPECT_EQ(k.take(), OK);
    EXPECT_EQ(k.rec.bodies.at(0), "hello");

    // Body already arriving with the headers: no 100 needed (RFC 9110 §10.1.1).
    EXPECT_EQ(k.feed(head + "hello"), (ssize_t)(head.size() + 5));
    EXPECT_EQ(k.take(), OK);

    // Chunked with 100-continue.
    std::string ch =
        req_line("POST", "/c", "Expect: 100-Continue\r\nTransfer-Encoding: chunked\r\n", "");
    EXPECT_EQ(k.feed(ch), (ssize_t)ch.size());
    EXPECT_EQ(k.take(), CONTINUE);
    EXPECT_EQ(k.feed("1\r\nz\r\n0\r\n\r\n"), 11);
    EXPECT_EQ(k.take(), OK);

    // No body: nothing to continue.
    EXPECT_GT(k.feed(req_line("GET", "/", "Expect: 100-continue\r\n", "")), 0);
    EXPECT_EQ(k.take(), OK);
}

TEST(Http1, ExpectContinueRefusedGetsNo100)
{
    Conn k;
    std::string head =
        req_line("POST", "/404", "Expect: 100-continue\r\nContent-Length: 5\r\n", "");
    EXPECT_LT(k.feed(head), 0);
    // The client may or may not send the body now, so the connection cannot be reused.
    EXPECT_EQ(k.take(), err_resp(404, "Not Found"));
    EXPECT_TRUE(lr_http1_conn_closing(k.c));
}

TEST(Http1, Http10IgnoresExpect)
{
    Conn k;
    std::string head = "POST /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    EXPECT_EQ(k.feed(head), (ssize_t)head.size());
    EXPECT_EQ(k.take(), "");
    EXPECT_LT(k.feed("hi"), 0);
    EXPECT_EQ(k.take(), OK_CLOSE);
}

TEST(Http1, AfterCloseFeedsReturnTheSameError)
{
    Conn k;
    ssize_t rc = k.feed("BAD\r\n\r\n");
    EXPECT_EQ(rc, LR_E_MALFORMED);
    EXPECT_EQ(k.feed(req_line("GET", "/", "", "")), LR_E_MALFORMED);
    EXPECT_EQ(k.take(), err_resp(400, "Bad Request"));
    EXPECT_EQ(lr_http1_conn_tick(k.c, 100 * kSec), LR_E_MALFORMED);
}

TEST(Http1, HandlerCloseAndEmptyOnError)
{
    Rec rec;
    rec.close_after = true;
    lr_http_handler h{};
    h.on_request = on_request;
    h.ctx = &rec;
    lr_http1_limits lim = test_limits();
    lr_http1_conn *c = lr_http1_conn_new(&lim, &h, 0);
    ASSERT_NE(c, nullptr);
    std::string r = req_line("GET", "/", "", "");
    EXPECT_EQ(lr_http1_conn_feed(c, (const uint8_t *)r.data(), r.size(), 0), LR_E_UNAVAILABLE);
    EXPECT_EQ(S(lr_http1_conn_output(c)), OK_CLOSE);
    lr_http1_conn_free(c);

    // No on_headers/on_error: errors still answered, with an empty body.
    rec.close_after = false;
    c = lr_http1_conn_new(&lim, &h, 0);
    EXPECT_LT(lr_http1_conn_feed(c, (const uint8_t *)"X\r\n", 3, 0), 0);
    EXPECT_EQ(S(lr_http1_conn_output(c)), err_resp(400, "Bad Request"));
    lr_http1_conn_free(c);

    lr_http_handler none{};
    EXPECT_EQ(lr_http1_conn_new(&lim, &none, 0), nullptr);
    lr_http1_conn_free(nullptr);
}

TEST(Http1, EveryFieldValueOctet)
{
    // RFC 9110 §5.5: HTAB, SP, VCHAR and obs-text are allowed; other controls and DEL are not.
    // Every octet at every position of a 16-byte word (the validator checks 8 bytes at once).
    for (int b = 0; b < 256; b++) {
        bool ok = b == '\t' || (b >= 0x20 && b != 0x7f);
        for (size_t at = 0; at < 17; at++) {
            std::string v(17, 'a');
            v[at] = (char)b;
            Result r = drive(req_line("GET", "/", "X-V: " + v + "\r\n", ""), {});
            ASSERT_EQ(r.out, ok ? OK : err_resp(400, "Bad Request")) << b << " at " << at;
        }
    }
}

TEST(Http1, RequestFieldsAndHeaders)
{
    Conn k;
    struct Seen {
        std::vector<std::string> h;
        std::string ct, ce;
        uint64_t cl = 0;
        bool has_cl = false, chunked = false;
    } seen;
    k.h.ctx = &seen;
    k.h.on_headers = nullptr;
    k.h.on_request = [](void *ctx, const lr_http_req *q, lr_http_resp *resp) {
        Seen *s = static_cast<Seen *>(ctx);
        for (uint32_t i = 0; i < q->n_headers; i++)
            s->h.push_back(S(q->headers[i].name) + "=" + S(q->headers[i].value));
        s->ct = S(q->content_type);
        s->ce = S(q->content_encoding);
        s->cl = q->content_length;
        s->has_cl = q->has_content_length;
        s->chunked = q->chunked;
        resp->status = 204;
    };
    lr_http1_conn_free(k.c);
    lr_http1_limits lim = test_limits();
    k.c = lr_http1_conn_new(&lim, &k.h, 0);
    std::string in = "POST /a HTTP/1.1\r\nHost:h\r\nContent-Type:\tText/Plain ;q=1\r\n"
                     "Content-Length: 2\r\nX-Empty:\r\nX-Ws: \t a b \t\r\n\r\nhi";
    EXPECT_EQ(k.feed(in), (ssize_t)in.size());
    EXPECT_EQ(k.take(), "HTTP/1.1 204 No Content\r\n\r\n");
    EXPECT_EQ(joined(seen.h), "Host=h\nContent-Type=Text/Plain ;q=1\nContent-Length=2\nX-Empty=\n"
                              "X-Ws=a b\n");
    EXPECT_EQ(seen.ct, "Text/Plain");
    EXPECT_EQ(seen.ce, "");
    EXPECT_TRUE(seen.has_cl);
    EXPECT_EQ(seen.cl, 2u);
    EXPECT_FALSE(seen.chunked);
}

// ---- timeouts ------------------------------------------------------------------------------

TEST(Http1, HeaderTimeoutStopsSlowloris)
{
    Conn k;
    std::string r = req_line("GET", "/", "X-Slow: " + std::string(500, 'a') + "\r\n", "");
    uint64_t now = 0;
    size_t i = 0;
    int rc = 0;
    // One byte per 10 ms tick: far below the header limit, so only the clock can stop it.
    for (; i < r.size() - 4; i++, now += kSec / 100) {
        ASSERT_EQ(k.feed(r.substr(i, 1), now), 1);
        rc = lr_http1_conn_tick(k.c, now);
        if (rc != 0)
            break;
    }
    EXPECT_EQ(rc, LR_E_TIMEOUT);
    EXPECT_EQ(now, 1 * kSec); // the first byte came at 0
    EXPECT_EQ(k.take(), err_resp(408, "Request Timeout"));
    EXPECT_TRUE(lr_http1_conn_closing(k.c));
    EXPECT_EQ(joined(k.rec.ev), "err 408 GET / timeout\n");
}

TEST(Http1, HeaderTimeoutBeforeRequestLine)
{
    Conn k;
    EXPECT_EQ(k.feed("PO", 0), 2);
    EXPECT_EQ(lr_http1_conn_tick(k.c, kSec - 1), 0);
    EXPECT_EQ(lr_http1_conn_tick(k.c, kSec), LR_E_TIMEOUT);
    EXPECT_EQ(joined(k.rec.ev), "err 408 - timeout\n");
    EXPECT_EQ(k.take(), err_resp(408, "Request Timeout"));
}

TEST(Http1, IdleTimeoutClosesSilently)
{
    Conn k(test_limits(), 10 * kSec);
    EXPECT_EQ(lr_http1_conn_tick(k.c, 14 * kSec), 0);
    std::string r = req_line("GET", "/", "", "");
    EXPECT_EQ(k.feed(r, 14 * kSec), (ssize_t)r.size());
    EXPECT_EQ(k.take(), OK);
    EXPECT_EQ(lr_http1_conn_tick(k.c, 18 * kSec), 0); // idle counts from the last bytes
    EXPECT_EQ(lr_http1_conn_tick(k.c, 19 * kSec), LR_E_TIMEOUT);
    EXPECT_EQ(k.take(), "");
    EXPECT_TRUE(lr_http1_conn_closing(k.c));
    EXPECT_EQ(k.rec.ev.size(), 2u);
}

TEST(Http1, CrlfTrickleIsIdle)
{
    Conn k;
    uint64_t now = 0;
    int rc = 0;
    for (; now < 10 * kSec && rc == 0; now += kSec / 2) {
        k.feed("\r\n", now);
        rc = lr_http1_conn_tick(k.c, now);
    }
    EXPECT_EQ(rc, LR_E_TIMEOUT);
    EXPECT_LE(now, 6 * kSec);
    EXPECT_EQ(k.take(), "");
}

TEST(Http1, BodyTimeout)
{
    Conn k;
    EXPECT_GT(k.feed(clreq("/b", "0123456789").substr(0, 60), 0), 0);
    EXPECT_EQ(lr_http1_conn_tick(k.c, kSec), 0);
    EXPECT_EQ(k.feed("", kSec), 0);
    EXPECT_EQ(lr_http1_conn_tick(k.c, 2 * kSec), LR_E_TIMEOUT);
    EXPECT_EQ(k.take(), err_resp(408, "Request Timeout"));
    EXPECT_EQ(k.rec.ev.back(), "err 408 POST /b timeout");
}

TEST(Http1, BodyProgressResetsTimer)
{
    Conn k;
    std::string r =
        req_line("POST", "/c", "Transfer-Encoding: chunked\r\n", chunked("abcdefgh", 1));
    size_t head = r.find("\r\n\r\n") + 4;
    uint64_t now = 0;
    EXPECT_EQ(k.feed(r.substr(0, head), now), (ssize_t)head);
    for (size_t i = head; i < r.size(); i++) {
        now += kSec; // each byte within the body timeout of the previous one
        EXPECT_EQ(lr_http1_conn_tick(k.c, now), 0);
        k.feed(r.substr(i, 1), now);
    }
    EXPECT_EQ(k.rec.bodies.at(0), "abcdefgh");
    EXPECT_EQ(k.take(), OK);
}

// ---- memory and backpressure ---------------------------------------------------------------

// 1 GiB of zeros deflates to about 1 MiB: the engine must stop at the limit without allocating
// past it.
std::string make_bomb(size_t total, int wbits)
{
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, wbits, 9, Z_DEFAULT_STRATEGY), Z_OK);
    std::vector<uint8_t> zeros(1 << 20, 0);
    std::string out;
    std::vector<uint8_t> buf(1 << 16);
    for (size_t done = 0; done <= total; done += zeros.size()) {
        bool last = done == total;
        z.next_in = zeros.data();
        z.avail_in = last ? 0 : (uInt)zeros.size();
        do {
            z.next_out = buf.data();
            z.avail_out = (uInt)buf.size();
            deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
            out.append(reinterpret_cast<char *>(buf.data()), buf.size() - z.avail_out);
        } while (z.avail_out == 0);
    }
    deflateEnd(&z);
    return out;
}

TEST(Http1, GzipBombStopsAtTheLimit)
{
    static const std::string bomb = make_bomb(size_t(1) << 30, 16 + 15);
    ASSERT_LT(bomb.size(), size_t(2) << 20);
    lr_http1_limits lim = test_limits();
    lim.max_body_bytes = 4 << 20;
    lim.max_header_bytes = 8192;
    for (int framing = 0; framing < 2; framing++) {
        Conn k(lim);
        std::string in = framing == 0
                             ? clreq("/bomb", bomb, "Content-Encoding: gzip\r\n")
                             : req_line("POST", "/bomb",
                                        "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
                                        chunked(bomb, 65536));
        ssize_t rc = 0;
        for (size_t i = 0; i < in.size() && rc >= 0; i += 16384) {
            std::string piece = in.substr(i, 16384);
            rc = k.feed(piece);
        }
        EXPECT_EQ(rc, LR_E_TOO_LARGE);
        EXPECT_EQ(k.take(), err_resp(413, "Content Too Large"));
        EXPECT_EQ(k.rec.ev.back(), "err 413 POST /bomb");
        // The body buffer is capped at limit + 1; the rest is zlib's state and small buffers.
        EXPECT_LT(lr_http1_conn_mem_peak(k.c), lim.max_body_bytes + (256u << 10))
            << "framing " << framing;
    }
}

// The same bound for the buffered codings: the compressed body is at most the limit on the wire
// and the decoded one at most limit + 1, however much the body claims to hold.
std::string zeros_bomb(lr_dp_codec c, size_t total)
{
    std::string zeros(total, '\0');
    return codec_enc(c, zeros);
}

// 1 GiB of zeros compressed a MiB at a time, without the GiB in memory. The zstd frame has no
// content size, so the decoder cannot refuse it up front and must stop while streaming.
std::string zstd_gib_bomb()
{
    ZSTD_CCtx *z = ZSTD_createCCtx();
    std::vector<char> zeros(1 << 20, 0), buf(ZSTD_CStreamOutSize());
    std::string out;
    for (int i = 0; i < 1024; i++) {
        ZSTD_inBuffer ib = { zeros.data(), zeros.size(), 0 };
        size_t rem;
        do {
            ZSTD_outBuffer ob = { buf.data(), buf.size(), 0 };
            rem = ZSTD_compressStream2(z, &ob, &ib, i == 1023 ? ZSTD_e_end : ZSTD_e_continue);
            EXPECT_FALSE(ZSTD_isError(rem));
            out.append(buf.data(), ob.pos);
        } while (i == 1023 ? rem != 0 : ib.pos < ib.size);
    }
    ZSTD_freeCCtx(z);
    return out;
}

std::string lz4_gib_bomb()
{
    LZ4F_cctx *c;
    LZ4F_createCompressionContext(&c, LZ4F_VERSION);
    LZ4F_preferences_t p{};
    p.frameInfo.blockSizeID = LZ4F_max4MB;
    std::vector<char> zeros(1 << 20, 0), buf(LZ4F_compressBound(1 << 20, &p) + 64);
    std::string out;
    out.append(buf.data(), LZ4F_compressBegin(c, buf.data(), buf.size(), &p));
    for (int i = 0; i < 1024; i++)
        out.append(buf.data(), LZ4F_compressUpdate(c, buf.data(), buf.size(), zeros.data(),
                                                   zeros.size(), nullptr));
    out.append(buf.data(), LZ4F_compressEnd(c, buf.data(), buf.size(), nullptr));
    LZ4F_freeCompressionContext(c);
    return out;
}

TEST(Http1, EveryCodecBombStopsAtTheLimit)
{
    lr_http1_limits lim = test_limits();
    lim.max_body_bytes = 8 << 20;
    lim.max_header_bytes = 8192;
    struct {
        const char *name, *ce;
        std::string body;
    } bombs[] = {
        // 1 GiB of zeros: ~33 KiB of zstd, ~4.1 MiB of lz4 (both under the wire limit).
        { "zstd", "zstd", zstd_gib_bomb() },
        { "zstd_known_size", "zstd", zeros_bomb(LR_CODEC_ZSTD, size_t(64) << 20) },
        { "lz4", "lz4", lz4_gib_bomb() },
        // Snappy's ratio is at most ~21:1, so 1 GiB would be ~48 MiB on the wire (a 413 before
        // decoding); 128 MiB of zeros is ~6 MiB and has to be stopped by the decoder.
        { "snappy_block", "snappy", zeros_bomb(LR_CODEC_SNAPPY, size_t(128) << 20) },
        { "snappy_framed", "x-snappy-framed",
          zeros_bomb(LR_CODEC_SNAPPY_FRAMED, size_t(128) << 20) },
        { "snappy_framed_as_snappy", "snappy",
          zeros_bomb(LR_CODEC_SNAPPY_FRAMED, size_t(128) << 20) },
        { "zlib", "zlib", make_bomb(size_t(1) << 30, 15) },
    };
    for (const auto &b : bombs) {
        ASSERT_LT(b.body.size(), lim.max_body_bytes) << b.name;
        for (int framing = 0; framing < 2; framing++) {
            Conn k(lim);
            std::string ce = std::string("Content-Encoding: ") + b.ce + "\r\n";
            std::string in = framing == 0
                                 ? clreq("/bomb", b.body, ce)
                                 : req_line("POST", "/bomb", ce + "Transfer-Encoding: chunked\r\n",
                                            chunked(b.body, 65536));
            ssize_t rc = 0;
            for (size_t i = 0; i < in.size() && rc >= 0; i += 16384)
                rc = k.feed(in.substr(i, 16384));
            EXPECT_EQ(rc, LR_E_TOO_LARGE) << b.name;
            EXPECT_EQ(k.take(), err_resp(413, "Content Too Large")) << b.name;
            EXPECT_EQ(k.rec.ev.back(), "err 413 POST /bomb") << b.name;
            // The compressed body (exactly its Content-Length, or doubling up to the limit when
            // chunked) + the decoded body (<= limit + 1) + small buffers.
            size_t wire_cap =
                framing == 0 ? b.body.size() : std::min(2 * b.body.size(), lim.max_body_bytes);
            size_t peak = lr_http1_conn_mem_peak(k.c);
            EXPECT_LT(peak, wire_cap + lim.max_body_bytes + (256u << 10))
                << b.name << " framing " << framing;
            printf("[ bomb ] %-24s framing %d: %8zu bytes on the wire, engine peak %zu\n", b.name,
                   framing, b.body.size(), peak);
        }
    }
    // A compressed body over the limit on the wire is refused as it arrives.
    std::string big = zeros_bomb(LR_CODEC_SNAPPY, size_t(256) << 20);
    ASSERT_GT(big.size(), lim.max_body_bytes);
    Conn k(lim);
    std::string in =
        req_line("POST", "/bomb", "Content-Encoding: snappy\r\nTransfer-Encoding: chunked\r\n",
                 chunked(big.substr(0, 9 << 20), 1 << 20));
    ssize_t rc = 0;
    for (size_t i = 0; i < in.size() && rc >= 0; i += 65536)
        rc = k.feed(in.substr(i, 65536));
    EXPECT_EQ(rc, LR_E_TOO_LARGE);
    EXPECT_EQ(k.take(), err_resp(413, "Content Too Large"));
    EXPECT_LT(lr_http1_conn_mem_peak(k.c), lim.max_body_bytes + (256u << 10));
}

TEST(Http1, UnsupportedEncodingNamesTheAcceptedOnes)
{
    struct {
        std::string ce, reason;
    } t[] = {
        { "br", "unsupported Content-Encoding \"br\"; accepted: gzip, deflate, zlib, zstd, "
                "snappy, lz4" },
        { "gzip, br", "unsupported Content-Encoding \"gzip, br\"; accepted: gzip, deflate, zlib, "
                      "zstd, snappy, lz4" },
        { "compress\x80\"x", "unsupported Content-Encoding \"compress??x\"; accepted: gzip, "
                             "deflate, zlib, zstd, snappy, lz4" },
        { std::string(50, 'a'), "unsupported Content-Encoding \"" + std::string(40, 'a') +
                                    "...\"; accepted: gzip, deflate, zlib, zstd, snappy, lz4" },
    };
    for (const auto &e : t) {
        Conn k;
        std::string in = clreq("/e", "xyz", "Content-Encoding: " + e.ce + "\r\n");
        EXPECT_EQ(k.feed(in), (ssize_t)in.size());
        EXPECT_EQ(k.take(), err_resp(415, "Unsupported Media Type", false)) << e.ce;
        ASSERT_EQ(k.rec.reasons.size(), 1u);
        EXPECT_EQ(k.rec.reasons[0], e.reason);
    }
    Conn k;
    std::string in = clreq("/e", "xyz", "Content-Encoding: gzip\r\nContent-Encoding: zstd\r\n");
    EXPECT_EQ(k.feed(in), (ssize_t)in.size());
    ASSERT_EQ(k.rec.reasons.size(), 1u);
    EXPECT_NE(k.rec.reasons[0].find("accepted: gzip, deflate, zlib, zstd, snappy, lz4"),
              std::string::npos);
}

TEST(Http1, CorruptBodyReasonNamesTheCodec)
{
    for (const char *ce : { "zstd", "snappy", "x-snappy-framed", "lz4" }) {
        Conn k;
        EXPECT_EQ(
            k.feed(clreq("/c", "\x01garbage", std::string("Content-Encoding: ") + ce + "\r\n")),
            LR_E_MALFORMED);
        ASSERT_EQ(k.rec.reasons.size(), 1u);
        EXPECT_EQ(k.rec.reasons[0], std::string("bad ") + ce + " body");
    }
}

TEST(Http1, OtelFixturesInEveryCoding)
{
    const char *files[] = { "traces.http-protobuf.body", "metrics.http-protobuf.body",
                            "logs.http-protobuf.body" };
    for (const char *f : files) {
        std::string body = lr_fixture(f);
        ASSERT_FALSE(body.empty()) << f << " not found in " << lr_fixture_dir();
        for (lr_dp_codec c : { LR_CODEC_GZIP, LR_CODEC_DEFLATE, LR_CODEC_ZLIB, LR_CODEC_ZSTD,
                               LR_CODEC_SNAPPY, LR_CODEC_SNAPPY_FRAMED, LR_CODEC_LZ4 }) {
            std::string z = codec_enc(c, body);
            std::string in = clreq(
                "/v1/traces", z, std::string("Content-Encoding: ") + lr_dp_codec_name(c) + "\r\n");
            for (int mode = 0; mode < 2; mode++) {
                Conn k;
                if (mode == 0) {
                    EXPECT_EQ(k.feed(in), (ssize_t)in.size());
                } else {
                    for (char ch : in)
                        ASSERT_EQ(k.feed(std::string(1, ch)), 1);
                }
                ASSERT_EQ(k.rec.bodies.size(), 1u) << f << " " << lr_dp_codec_name(c);
                EXPECT_TRUE(k.rec.bodies[0] == body) << f << " " << lr_dp_codec_name(c);
                EXPECT_EQ(k.take(), OK);
            }
        }
    }
}

TEST(Http1, LargeBodyBuffersShrinkAfterwards)
{
    lr_http1_limits lim = test_limits();
    lim.max_body_bytes = 8 << 20;
    Conn k(lim);
    std::string body(3 << 20, 'b');
    std::string r = clreq("/big", body);
    EXPECT_EQ(k.feed(r.substr(0, 1000)), 1000);
    EXPECT_EQ(k.feed(r.substr(1000)), (ssize_t)(r.size() - 1000));
    EXPECT_EQ(k.take(), OK);
    EXPECT_EQ(k.rec.bodies.at(0), body);
    EXPECT_LT(lr_http1_conn_mem_bytes(k.c), size_t(1) << 20);
}

TEST(Http1, PipelinedClientThatNeverReadsIsPaused)
{
    Conn k;
    k.rec.resp_body_bytes = 300 << 10;
    std::string in;
    for (int i = 0; i < 10; i++)
        in += req_line("GET", "/" + std::to_string(i), "", "");
    EXPECT_EQ(k.feed(in), (ssize_t)in.size());
    // Parsing stops once more than 1 MiB of answers waits.
    EXPECT_EQ(lr_http1_conn_requests(k.c), 4u);
    EXPECT_EQ(lr_http1_conn_eof(k.c), 0);
    std::string out;
    for (int spins = 0; spins < 100; spins++) {
        lr_slice o = lr_http1_conn_output(k.c);
        if (o.len == 0)
            break;
        size_t n = std::min(o.len, size_t(64) << 10);
        out += std::string(reinterpret_cast<const char *>(o.p), n);
        lr_http1_conn_output_consumed(k.c, n);
    }
    EXPECT_EQ(lr_http1_conn_requests(k.c), 10u);
    EXPECT_TRUE(lr_http1_conn_closing(k.c));
    size_t n = 0;
    for (size_t p = out.find("HTTP/1.1 200 OK"); p != std::string::npos;
         p = out.find("HTTP/1.1 200 OK", p + 1))
        n++;
    EXPECT_EQ(n, 10u);
}

// ---- real clients --------------------------------------------------------------------------

std::string fixture_dir()
{
    return lr_fixture_dir();
}

std::string slurp(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// An independent reading of the capture: de-chunk by hand.
std::string dechunk(const std::string &raw)
{
    size_t i = raw.find("\r\n\r\n") + 4;
    std::string out;
    for (;;) {
        size_t e = raw.find("\r\n", i);
        size_t n = std::stoul(raw.substr(i, e - i), nullptr, 16);
        i = e + 2;
        if (n == 0)
            return out;
        out += raw.substr(i, n);
        i += n + 2;
    }
}

std::string gunzip(const std::string &in)
{
    z_stream z{};
    inflateInit2(&z, 16 + 15);
    std::string out(1 << 20, '\0');
    z.next_in = (Bytef *)in.data();
    z.avail_in = (uInt)in.size();
    z.next_out = (Bytef *)&out[0];
    z.avail_out = (uInt)out.size();
    EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
    out.resize(z.total_out);
    inflateEnd(&z);
    return out;
}

TEST(Http1, OtelJsExporterCaptures)
{
    std::string dir = fixture_dir();
    ASSERT_FALSE(lr_fixture("README.md").empty()) << "fixtures not found in " << dir;
    struct {
        const char *raw, *body, *path;
        bool gzip;
    } cases[] = {
        { "1-v1_traces-protobuf.http", "traces.http-protobuf.body", "/v1/traces", false },
        { "2-v1_logs-json-gzip.http", "logs.http-json-gzip.body", "/v1/logs", true },
        { "3-v1_metrics-json.http", "metrics.http-json.body", "/v1/metrics", false },
    };
    for (const auto &cs : cases) {
        std::string raw = slurp(dir + "/raw-http/" + cs.raw);
        ASSERT_FALSE(raw.empty()) << cs.raw;
        std::string want = dechunk(raw);
        if (cs.gzip)
            want = gunzip(want);
        for (int mode = 0; mode < 2; mode++) {
            Conn k;
            if (mode == 0) {
                EXPECT_EQ(k.feed(raw), (ssize_t)raw.size());
            } else {
                for (char ch : raw)
                    EXPECT_EQ(k.feed(std::string(1, ch)), 1);
            }
            ASSERT_EQ(k.rec.bodies.size(), 1u) << cs.raw;
            EXPECT_EQ(k.rec.bodies[0], want) << cs.raw;
            EXPECT_EQ(k.rec.ev[0], std::string("hdr POST ") + cs.path);
            EXPECT_EQ(k.take(), OK);
            EXPECT_FALSE(lr_http1_conn_closing(k.c)); // Connection: keep-alive
        }
        // The .body files come from another run of the same sender: same shape, other ids and
        // timestamps. They must agree on the resource part.
        std::string other = slurp(dir + "/" + cs.body);
        if (cs.gzip)
            other = gunzip(other);
        ASSERT_FALSE(other.empty());
        EXPECT_EQ(want[0], other[0]);
        EXPECT_NE(want.find("service.name"), std::string::npos);
        EXPECT_NE(other.find("service.name"), std::string::npos);
        if (want[0] == '{') {
            EXPECT_EQ(want.substr(0, 300), other.substr(0, 300)) << cs.raw;
        }
    }
}

} // namespace
