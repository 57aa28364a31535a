// Tests for dataplane/codec.c: round trips of every codec over a table of payloads, every truncated
// prefix of every compressed vector, corrupt bytes, bombs (the output buffer never grows past the
// limit + 1), the limit exactly at the size, and the names table.
#include <gtest/gtest.h>

#include "unit/fixtures.h"
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "../../../dataplane/codec.h"
#include "linerate/error.h"
}

namespace
{

constexpr size_t kMiB = size_t(1) << 20;

struct Buf {
    lr_dp_buf b{};
    ~Buf() { free(b.p); }
    std::string str() const { return b.len ? std::string((const char *)b.p, b.len) : ""; }
};

const uint8_t *U(const std::string &s)
{
    return reinterpret_cast<const uint8_t *>(s.data());
}

std::string enc(lr_dp_codec c, const std::string &s)
{
    Buf o;
    EXPECT_EQ(lr_dp_codec_encode(c, U(s), s.size(), &o.b), 0) << lr_dp_codec_name(c);
    return o.str();
}

struct Dec {
    int rc;
    std::string out;
    size_t cap;
};

Dec dec(lr_dp_codec c, const std::string &s, size_t limit)
{
    Buf o;
    int rc = lr_dp_codec_decode(c, U(s), s.size(), limit, &o.b);
    return { rc, o.str(), o.b.cap };
}

// Independent encoders, so the decoders are not only checked against our own encoder.
std::string zlib_enc(const std::string &s, int wbits)
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

std::string zstd_unknown_size(const std::string &s)
{
    ZSTD_CCtx *z = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, 0);
    std::string out(ZSTD_compressBound(s.size()) + 64, '\0');
    size_t r = ZSTD_compress2(z, &out[0], out.size(), s.data(), s.size());
    EXPECT_FALSE(ZSTD_isError(r));
    out.resize(r);
    ZSTD_freeCCtx(z);
    return out;
}

std::string lz4_enc(const std::string &s, LZ4F_blockSizeID_t bs, LZ4F_blockMode_t mode)
{
    LZ4F_preferences_t p{};
    p.frameInfo.blockSizeID = bs;
    p.frameInfo.blockMode = mode;
    p.frameInfo.contentSize = s.size();
    std::string out(LZ4F_compressFrameBound(s.size(), &p), '\0');
    size_t r = LZ4F_compressFrame(&out[0], out.size(), s.data(), s.size(), &p);
    EXPECT_FALSE(LZ4F_isError(r));
    out.resize(r);
    return out;
}

std::string fixture(const char *name)
{
    return lr_fixture(name);
}

std::string random_bytes(size_t n, uint32_t seed)
{
    std::mt19937 g(seed);
    std::string s(n, '\0');
    for (auto &ch : s)
        ch = (char)(g() & 0xff);
    return s;
}

const lr_dp_codec kCodecs[] = { LR_CODEC_IDENTITY, LR_CODEC_GZIP,         LR_CODEC_DEFLATE,
                                LR_CODEC_ZLIB,     LR_CODEC_ZSTD,         LR_CODEC_SNAPPY,
                                LR_CODEC_LZ4,      LR_CODEC_SNAPPY_FRAMED };

struct Payload {
    std::string name, data;
};

std::vector<Payload> payloads()
{
    std::vector<Payload> v = { { "empty", "" },
                               { "one_byte", "x" },
                               { "random_1MiB", random_bytes(kMiB, 1) },
                               { "zeros_1MiB", std::string(kMiB, '\0') } };
    for (const char *f :
         { "traces.http-protobuf.body", "metrics.http-protobuf.body", "logs.http-protobuf.body" }) {
        std::string s = fixture(f);
        if (!s.empty())
            v.push_back({ f, s });
    }
    EXPECT_EQ(v.size(), 7u) << "fixtures missing";
    return v;
}

// ---- names ---------------------------------------------------------------------------------

TEST(Codec, Names)
{
    struct {
        const char *name;
        lr_dp_codec c;
    } t[] = {
        { "", LR_CODEC_IDENTITY },
        { "identity", LR_CODEC_IDENTITY },
        { " Identity\t", LR_CODEC_IDENTITY },
        { "gzip", LR_CODEC_GZIP },
        { "GZIP", LR_CODEC_GZIP },
        { "x-gzip", LR_CODEC_GZIP },
        { "deflate", LR_CODEC_DEFLATE },
        { "zlib", LR_CODEC_ZLIB },
        { "zstd", LR_CODEC_ZSTD },
        { " ZStd ", LR_CODEC_ZSTD },
        { "snappy", LR_CODEC_SNAPPY },
        { "x-snappy-framed", LR_CODEC_SNAPPY_FRAMED },
        { "lz4", LR_CODEC_LZ4 },
        { "br", LR_CODEC_UNKNOWN },
        { "gzip2", LR_CODEC_UNKNOWN },
        { "gzi", LR_CODEC_UNKNOWN },
        { "gzip, zstd", LR_CODEC_UNKNOWN },
        { "none", LR_CODEC_UNKNOWN },
        { "x-snappy", LR_CODEC_UNKNOWN },
    };
    for (const auto &e : t)
        EXPECT_EQ(lr_dp_codec_from_name(lr_slice_make(e.name, strlen(e.name))), e.c) << e.name;
    for (lr_dp_codec c : kCodecs) {
        const char *n = lr_dp_codec_name(c);
        EXPECT_EQ(lr_dp_codec_from_name(lr_slice_make(n, strlen(n))), c) << n;
    }
    EXPECT_STREQ(lr_dp_codec_name(LR_CODEC_UNKNOWN), "unknown");
    Buf o;
    EXPECT_EQ(lr_dp_codec_decode(LR_CODEC_UNKNOWN, U("x"), 1, 10, &o.b), LR_E_MEDIA_TYPE);
    EXPECT_EQ(lr_dp_codec_encode(LR_CODEC_UNKNOWN, U("x"), 1, &o.b), -EINVAL);
}

// ---- round trips ---------------------------------------------------------------------------

TEST(Codec, RoundTripEveryCodecEveryPayload)
{
    for (const Payload &p : payloads()) {
        for (lr_dp_codec c : kCodecs) {
            std::string z = enc(c, p.data);
            Dec d = dec(c, z, p.data.size() + 10);
            ASSERT_EQ(d.rc, 0) << lr_dp_codec_name(c) << " " << p.name;
            ASSERT_TRUE(d.out == p.data) << lr_dp_codec_name(c) << " " << p.name;
            EXPECT_LE(d.cap, p.data.size() + 11) << lr_dp_codec_name(c) << " " << p.name;
            // The limit exactly at the size is fine; one byte less is not.
            Dec at = dec(c, z, p.data.size());
            EXPECT_EQ(at.rc, 0) << lr_dp_codec_name(c) << " " << p.name;
            EXPECT_TRUE(at.out == p.data);
            EXPECT_LE(at.cap, p.data.size() + 1);
            if (!p.data.empty()) {
                Dec under = dec(c, z, p.data.size() - 1);
                EXPECT_EQ(under.rc, LR_E_TOO_LARGE) << lr_dp_codec_name(c) << " " << p.name;
                EXPECT_LE(under.cap, p.data.size());
                EXPECT_EQ(under.out, "");
            }
        }
    }
}

TEST(Codec, OtherEncodersAndFormats)
{
    std::string s =
        fixture("traces.http-protobuf.body") + random_bytes(70000, 2) + std::string(200000, 'a');
    struct {
        const char *name;
        lr_dp_codec c;
        std::string z, want;
    } t[] = {
        { "gzip_two_members", LR_CODEC_GZIP, zlib_enc(s, 31) + zlib_enc("tail", 31), s + "tail" },
        { "deflate_raw", LR_CODEC_DEFLATE, zlib_enc(s, -15), s },
        { "zlib_raw", LR_CODEC_ZLIB, zlib_enc(s, -15), s },
        { "zlib_wrapped", LR_CODEC_ZLIB, zlib_enc(s, 15), s },
        { "zstd_unknown_size", LR_CODEC_ZSTD, zstd_unknown_size(s), s },
        { "zstd_two_frames", LR_CODEC_ZSTD, enc(LR_CODEC_ZSTD, s) + zstd_unknown_size("x"),
          s + "x" },
        // A skippable frame (RFC 8878 §3.1.2) between two frames.
        { "zstd_skippable", LR_CODEC_ZSTD,
          enc(LR_CODEC_ZSTD, "a") + std::string("\x50\x2a\x4d\x18\x03\x00\x00\x00xyz", 11) +
              enc(LR_CODEC_ZSTD, "b"),
          "ab" },
        { "snappy_framed_as_snappy", LR_CODEC_SNAPPY, enc(LR_CODEC_SNAPPY_FRAMED, s), s },
        { "lz4_linked_4MiB_blocks", LR_CODEC_LZ4, lz4_enc(s, LZ4F_max4MB, LZ4F_blockLinked), s },
        { "lz4_independent_64KiB", LR_CODEC_LZ4, lz4_enc(s, LZ4F_max64KB, LZ4F_blockIndependent),
          s },
        { "lz4_two_frames", LR_CODEC_LZ4, enc(LR_CODEC_LZ4, s) + enc(LR_CODEC_LZ4, "x"), s + "x" },
    };
    for (const auto &e : t) {
        Dec d = dec(e.c, e.z, e.want.size());
        EXPECT_EQ(d.rc, 0) << e.name;
        EXPECT_TRUE(d.out == e.want) << e.name;
        EXPECT_LE(d.cap, e.want.size() + 1) << e.name;
    }
    // Block-format snappy is not the framing format.
    EXPECT_EQ(dec(LR_CODEC_SNAPPY_FRAMED, enc(LR_CODEC_SNAPPY, s), kMiB).rc, LR_E_MALFORMED);
}

TEST(Codec, BufferIsReused)
{
    Buf o;
    std::string a(100000, 'a'), z = enc(LR_CODEC_ZSTD, a);
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(lr_dp_codec_decode(LR_CODEC_ZSTD, U(z), z.size(), kMiB, &o.b), 0);
        ASSERT_EQ(o.str(), a);
    }
    ASSERT_EQ(lr_dp_codec_decode(LR_CODEC_ZSTD, U(z), 3, kMiB, &o.b), LR_E_MALFORMED);
    EXPECT_EQ(o.b.len, 0u);
}

// ---- truncation and corruption -------------------------------------------------------------

struct Vector {
    std::string name;
    lr_dp_codec c;
    std::string z, want;
    bool may_stop_early; // complete at some inner boundary (members, frames, chunks)
};

std::vector<Vector> small_vectors()
{
    std::string fx = fixture("logs.http-protobuf.body");
    std::string text = "hello hello hello hello, world";
    std::vector<Vector> v;
    for (lr_dp_codec c : kCodecs) {
        if (c == LR_CODEC_IDENTITY)
            continue;
        bool framed = c == LR_CODEC_SNAPPY_FRAMED;
        v.push_back({ std::string(lr_dp_codec_name(c)) + "_text", c, enc(c, text), text, framed });
        v.push_back({ std::string(lr_dp_codec_name(c)) + "_fixture", c, enc(c, fx), fx, framed });
        v.push_back({ std::string(lr_dp_codec_name(c)) + "_empty", c, enc(c, ""), "", framed });
    }
    std::string big = fx + std::string(65536, 'z') + fx; // two framed chunks
    v.push_back({ "snappy_framed_two_chunks", LR_CODEC_SNAPPY, enc(LR_CODEC_SNAPPY_FRAMED, big),
                  big, true });
    v.push_back({ "gzip_two_members", LR_CODEC_GZIP,
                  enc(LR_CODEC_GZIP, text) + enc(LR_CODEC_GZIP, fx), text + fx, true });
    v.push_back({ "deflate_raw", LR_CODEC_DEFLATE, zlib_enc(fx, -15), fx, false });
    v.push_back({ "zstd_unknown_size", LR_CODEC_ZSTD, zstd_unknown_size(fx), fx, false });
    v.push_back({ "zstd_two_frames", LR_CODEC_ZSTD,
                  enc(LR_CODEC_ZSTD, text) + enc(LR_CODEC_ZSTD, fx), text + fx, true });
    v.push_back({ "lz4_two_frames", LR_CODEC_LZ4, enc(LR_CODEC_LZ4, text) + enc(LR_CODEC_LZ4, fx),
                  text + fx, true });
    return v;
}

TEST(Codec, EveryTruncatedPrefixIsMalformed)
{
    for (const Vector &v : small_vectors()) {
        Dec full = dec(v.c, v.z, 1 << 20);
        ASSERT_EQ(full.rc, 0) << v.name;
        ASSERT_TRUE(full.out == v.want) << v.name;
        size_t ok_prefixes = 0;
        for (size_t k = 0; k < v.z.size(); k++) {
            Dec d = dec(v.c, v.z.substr(0, k), 1 << 20);
            if (d.rc == 0) {
                // Only a stream that is complete at an inner boundary may stop there, and then
                // it gives what was before that boundary.
                ASSERT_TRUE(v.may_stop_early) << v.name << " prefix " << k;
                ASSERT_EQ(v.want.compare(0, d.out.size(), d.out), 0) << v.name << " prefix " << k;
                ok_prefixes++;
                continue;
            }
            ASSERT_EQ(d.rc, LR_E_MALFORMED) << v.name << " prefix " << k;
            ASSERT_EQ(d.out, "");
        }
        if (!v.may_stop_early) {
            EXPECT_EQ(ok_prefixes, 0u);
        }
        // Trailing garbage after a complete stream.
        for (const char *g : { "\x00", "x", "\x1f\x8b", "garbage after the end" }) {
            Dec d = dec(v.c, v.z + std::string(g, strlen(g) ? strlen(g) : 1), 1 << 20);
            EXPECT_EQ(d.rc, LR_E_MALFORMED) << v.name << " + " << g;
        }
    }
}

TEST(Codec, CorruptBytesAreMalformedNotACrash)
{
    const size_t limit = 1 << 16;
    for (const Vector &v : small_vectors()) {
        size_t caught = 0, total = 0;
        for (size_t i = 0; i < v.z.size(); i++) {
            for (uint8_t mask : { 0x01, 0x80, 0xff }) {
                std::string z = v.z;
                z[i] = (char)(z[i] ^ mask);
                Dec d = dec(v.c, z, limit);
                ASSERT_TRUE(d.rc == 0 || d.rc == LR_E_MALFORMED || d.rc == LR_E_TOO_LARGE)
                    << v.name << " byte " << i << " rc " << d.rc;
                ASSERT_LE(d.out.size(), limit);
                ASSERT_LE(d.cap, limit + 1) << v.name << " byte " << i;
                total++;
                caught += d.rc != 0 || d.out != v.want;
            }
        }
        // Checksummed formats notice nearly every change (header fields that are not covered,
        // like gzip's MTIME, are the exceptions).
        if (v.c != LR_CODEC_SNAPPY && v.c != LR_CODEC_DEFLATE && !v.want.empty()) {
            EXPECT_GT(caught * 10, total * 7) << v.name << " " << caught << "/" << total;
        }
    }
    // Garbage of every length for every codec.
    std::string g = random_bytes(4096, 9);
    for (lr_dp_codec c : kCodecs)
        for (size_t n = 0; n < 300; n++) {
            Dec d = dec(c, g.substr(n, n), limit);
            ASSERT_TRUE(d.rc == 0 || d.rc == LR_E_MALFORMED || d.rc == LR_E_TOO_LARGE);
            ASSERT_LE(d.cap, limit + 1);
        }
}

// Hand-made framing-format streams: chunk types, checksums, sizes.
std::string chunk(uint8_t type, const std::string &body)
{
    std::string h(4, '\0');
    h[0] = (char)type;
    h[1] = (char)(body.size() & 0xff);
    h[2] = (char)((body.size() >> 8) & 0xff);
    h[3] = (char)((body.size() >> 16) & 0xff);
    return h + body;
}

const std::string kStreamId = std::string("\xff\x06\x00\x00sNaPpY", 10);

TEST(Codec, SnappyFramedChunks)
{
    // Take a real compressed chunk (with its checksum) from the encoder.
    std::string one = enc(LR_CODEC_SNAPPY_FRAMED, "hello hello hello hello");
    ASSERT_EQ(one.substr(0, 10), kStreamId);
    std::string data_chunk = one.substr(10);
    std::string crc_plain = enc(LR_CODEC_SNAPPY_FRAMED, "abc").substr(14, 4); // uncompressed chunk
    struct {
        const char *name;
        std::string in;
        int rc;
        std::string want;
    } t[] = {
        { "id_only", kStreamId, 0, "" },
        { "no_id", data_chunk, LR_E_MALFORMED, "" },
        { "uncompressed", kStreamId + chunk(0x01, crc_plain + "abc"), 0, "abc" },
        { "bad_crc", kStreamId + chunk(0x01, std::string("\0\0\0\0", 4) + "abc"), LR_E_MALFORMED,
          "" },
        { "padding_and_skippable",
          kStreamId + chunk(0xfe, std::string(5, '\0')) + chunk(0x80, "x") + data_chunk +
              chunk(0xfd, ""),
          0, "hello hello hello hello" },
        { "reserved_unskippable", kStreamId + chunk(0x02, "") + data_chunk, LR_E_MALFORMED, "" },
        { "reserved_7f", kStreamId + chunk(0x7f, "abcd"), LR_E_MALFORMED, "" },
        { "repeated_id", kStreamId + data_chunk + kStreamId + data_chunk, 0,
          "hello hello hello hellohello hello hello hello" },
        { "bad_id", std::string("\xff\x06\x00\x00sNaPpZ", 10), LR_E_MALFORMED, "" },
        { "short_chunk", kStreamId + chunk(0x00, "abc"), LR_E_MALFORMED, "" },
        { "chunk_len_past_end", kStreamId + data_chunk.substr(0, 4), LR_E_MALFORMED, "" },
        { "uncompressed_over_64KiB",
          kStreamId + chunk(0x01, std::string(4, '\0') + std::string(65537, 'a')), LR_E_MALFORMED,
          "" },
    };
    for (const auto &e : t) {
        Dec d = dec(LR_CODEC_SNAPPY_FRAMED, e.in, kMiB);
        EXPECT_EQ(d.rc, e.rc) << e.name;
        EXPECT_EQ(d.out, e.want) << e.name;
    }
}

// ---- bombs ---------------------------------------------------------------------------------

// 1 GiB of zeros (or as much as the format's ratio allows in a sane size), compressed as a stream.
// The deflate stream is made once (level 9, ~1 MiB) and wrapped as gzip and zlib, with the
// trailers computed by combining the checksums of 1 MiB pieces.
const std::string &raw_deflate_bomb()
{
    static const std::string out = [] {
        z_stream z{};
        EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
        std::vector<uint8_t> zeros(kMiB, 0), buf(1 << 16);
        std::string o;
        for (size_t done = 0; done <= (size_t(1) << 30); done += kMiB) {
            bool last = done == (size_t(1) << 30);
            z.next_in = zeros.data();
            z.avail_in = last ? 0 : (uInt)kMiB;
            do {
                z.next_out = buf.data();
                z.avail_out = (uInt)buf.size();
                deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
                o.append((const char *)buf.data(), buf.size() - z.avail_out);
            } while (z.avail_out == 0);
        }
        deflateEnd(&z);
        return o;
    }();
    return out;
}

std::string le32s(uint32_t v)
{
    std::string s(4, '\0');
    for (int i = 0; i < 4; i++)
        s[i] = (char)((v >> (8 * i)) & 0xff);
    return s;
}

std::string zlib_bomb(int wbits)
{
    std::vector<uint8_t> zeros(kMiB, 0);
    uLong crc1 = crc32(0, zeros.data(), (uInt)kMiB), ad1 = adler32(1, zeros.data(), (uInt)kMiB);
    uLong crc = crc32(0, nullptr, 0), ad = adler32(0, nullptr, 0);
    for (int i = 0; i < 1024; i++) {
        crc = crc32_combine(crc, crc1, (z_off_t)kMiB);
        ad = adler32_combine(ad, ad1, (z_off_t)kMiB);
    }
    const std::string &raw = raw_deflate_bomb();
    if (wbits < 0)
        return raw;
    if (wbits > 15) // RFC 1952: ID1 ID2 CM FLG MTIME(4) XFL OS ... CRC32 ISIZE
        return std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03", 10) + raw +
               le32s((uint32_t)crc) + le32s(0); // ISIZE is the size mod 2^32
    std::string be(4, '\0');                    // RFC 1950: CMF FLG ... ADLER32 (big-endian)
    for (int i = 0; i < 4; i++)
        be[i] = (char)((ad >> (24 - 8 * i)) & 0xff);
    return std::string("\x78\xda", 2) + raw + be;
}

std::string zstd_bomb(bool known_size)
{
    ZSTD_CCtx *z = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 1);
    if (known_size)
        ZSTD_CCtx_setPledgedSrcSize(z, size_t(1) << 30);
    std::vector<char> zeros(kMiB, 0), buf(ZSTD_CStreamOutSize());
    std::string out;
    for (size_t done = 0; done < (size_t(1) << 30); done += kMiB) {
        bool last = done + kMiB == (size_t(1) << 30);
        ZSTD_inBuffer ib = { zeros.data(), zeros.size(), 0 };
        size_t rem;
        do {
            ZSTD_outBuffer ob = { buf.data(), buf.size(), 0 };
            rem = ZSTD_compressStream2(z, &ob, &ib, last ? ZSTD_e_end : ZSTD_e_continue);
            EXPECT_FALSE(ZSTD_isError(rem));
            out.append(buf.data(), ob.pos);
        } while (last ? rem != 0 : ib.pos < ib.size);
    }
    ZSTD_freeCCtx(z);
    return out;
}

std::string lz4_bomb()
{
    LZ4F_cctx *c;
    LZ4F_createCompressionContext(&c, LZ4F_VERSION);
    LZ4F_preferences_t p{};
    p.frameInfo.blockSizeID = LZ4F_max4MB;
    std::vector<char> zeros(kMiB, 0), buf(LZ4F_compressBound(kMiB, &p) + 64);
    std::string out;
    size_t r = LZ4F_compressBegin(c, buf.data(), buf.size(), &p);
    out.append(buf.data(), r);
    for (size_t done = 0; done < (size_t(1) << 30); done += kMiB) {
        r = LZ4F_compressUpdate(c, buf.data(), buf.size(), zeros.data(), zeros.size(), nullptr);
        EXPECT_FALSE(LZ4F_isError(r));
        out.append(buf.data(), r);
    }
    r = LZ4F_compressEnd(c, buf.data(), buf.size(), nullptr);
    out.append(buf.data(), r);
    LZ4F_freeCompressionContext(c);
    return out;
}

std::string snappy_framed_bomb()
{
    std::string one = enc(LR_CODEC_SNAPPY_FRAMED, std::string(65536, '\0')).substr(10);
    std::string out = kStreamId;
    out.reserve(10 + one.size() * 16384);
    for (int i = 0; i < 16384; i++) // 1 GiB
        out += one;
    return out;
}

std::string snappy_block_bomb()
{
    return enc(LR_CODEC_SNAPPY, std::string(64 * kMiB, '\0'));
}

TEST(Codec, BombsStopAtTheLimit)
{
    const size_t limit = 4 * kMiB;
    struct {
        const char *name;
        lr_dp_codec c;
        std::string z;
    } t[] = {
        { "gzip", LR_CODEC_GZIP, zlib_bomb(31) },
        { "deflate", LR_CODEC_DEFLATE, zlib_bomb(15) },
        { "deflate_raw", LR_CODEC_DEFLATE, zlib_bomb(-15) },
        { "zlib", LR_CODEC_ZLIB, zlib_bomb(15) },
        { "zstd_known_size", LR_CODEC_ZSTD, zstd_bomb(true) },
        { "zstd_unknown_size", LR_CODEC_ZSTD, zstd_bomb(false) },
        { "lz4", LR_CODEC_LZ4, lz4_bomb() },
        { "snappy_framed", LR_CODEC_SNAPPY_FRAMED, snappy_framed_bomb() },
        { "snappy_framed_as_snappy", LR_CODEC_SNAPPY, snappy_framed_bomb() },
        { "snappy_block_64MiB", LR_CODEC_SNAPPY, snappy_block_bomb() },
        { "identity", LR_CODEC_IDENTITY, std::string(limit + 1, '\0') },
    };
    for (const auto &e : t) {
        Buf o;
        int rc = lr_dp_codec_decode(e.c, U(e.z), e.z.size(), limit, &o.b);
        EXPECT_EQ(rc, LR_E_TOO_LARGE) << e.name << " (" << e.z.size() << " bytes)";
        EXPECT_LE(o.b.cap, limit + 1) << e.name;
        EXPECT_EQ(o.b.len, 0u) << e.name;
        printf("[ bomb ] %-24s %10zu bytes compressed -> out cap %zu\n", e.name, e.z.size(),
               o.b.cap);
    }
    // A block that declares 1 GiB is refused before anything is allocated.
    std::string hdr = "\x80\x80\x80\x80\x04"; // varint 2^30
    Buf o;
    EXPECT_EQ(lr_dp_codec_decode(LR_CODEC_SNAPPY, U(hdr), hdr.size(), limit, &o.b), LR_E_TOO_LARGE);
    EXPECT_EQ(o.b.cap, 0u);
}

} // namespace
