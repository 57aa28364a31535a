// Tests for dataplane/sample.c: head sampling compatible with the Collector's probabilistic
// sampler processor.
//
// 1. Reference vectors from an independent implementation (tests/unit/dataplane/sample_vectors.js,
//    run with node at test time from the repository root): hash_seed decisions and rates,
//    thresholds and their encodings, probabilities, tracestate parsing and rewriting, and whole
//    decisions in the three modes.
// 2. Vectors copied from the Collector's own tests (processor/probabilisticsamplerprocessor/
//    tracesprocessor_test.go: TestHashingFunction, TestEmptyHashFunction,
//    Test_tracesamplerprocessor_TraceState, _TraceStateErrors, _HashSeedTraceState,
//    Test_tracessamplerprocessor_MissingRandomness; pkg/sampling/w3ctracestate_test.go).
// 3. Hand-written edge cases: th/rv encode and parse with every truncation, malformed
//    tracestates, every truncated prefix of every tracestate, output buffers that are too small.
#include <gtest/gtest.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <vector>

extern "C" {
#include "../../../dataplane/sample.h"
#include "linerate/error.h"
}

namespace
{

using Id = std::vector<uint8_t>;

int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

std::string unhex(const std::string &h)
{
    std::string s;
    if (h == "-")
        return s;
    for (size_t i = 0; i + 1 < h.size(); i += 2)
        s.push_back((char)(hexval(h[i]) << 4 | hexval(h[i + 1])));
    return s;
}

Id tid(const std::string &h)
{
    std::string b = unhex(h);
    return Id(b.begin(), b.end());
}

uint64_t u64(const std::string &h)
{
    return std::stoull(h, nullptr, 16);
}

double dbl(const std::string &h)
{
    uint64_t b = u64(h);
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

std::string enc(uint64_t th)
{
    char b[15];
    size_t n = lr_dp_sample_th_encode(th, b);
    EXPECT_EQ(strlen(b), n);
    return std::string(b, n);
}

std::string set_th(const std::string &ts, uint64_t th, ssize_t *rc = nullptr)
{
    char out[LR_DP_SAMPLE_TS_MAX_OUT];
    ssize_t n = lr_dp_sample_ts_set_th(ts.data(), ts.size(), th, out, sizeof(out));
    if (rc)
        *rc = n;
    return n < 0 ? "!" : std::string(out, (size_t)n);
}

struct Decision {
    lr_dp_sample_result r;
    std::string ts; // the new tracestate, or "-" when left alone
};

Decision decide(const lr_dp_sample_cfg &cfg, const Id &id, const std::string &ts,
                lr_dp_sample_priority prio = LR_DP_SAMPLE_PRIO_DEFER)
{
    lr_dp_sampler s;
    Decision d{};
    EXPECT_EQ(lr_dp_sampler_init(&s, &cfg), 0);
    char out[LR_DP_SAMPLE_TS_MAX_OUT];
    EXPECT_EQ(
        lr_dp_sample_decide(&s, id.data(), ts.data(), ts.size(), prio, out, sizeof(out), &d.r), 0);
    d.ts = d.r.ts_rewritten ? std::string(out, d.r.ts_len) : "-";
    return d;
}

lr_dp_sample_cfg cfg(lr_dp_sample_mode mode, double pct, int prec = 0, bool fail_closed = false,
                     uint32_t seed = 4312)
{
    lr_dp_sample_cfg c{};
    c.mode = mode;
    c.percentage = pct;
    c.precision = prec;
    c.fail_closed = fail_closed;
    c.hash_seed = seed;
    return c;
}

// ---- 1. independent reference vectors ---------------------------------------------------------

TEST(SampleVectors, MatchIndependentImplementation)
{
    FILE *f = popen("node tests/unit/dataplane/sample_vectors.js", "r");
    ASSERT_NE(f, nullptr) << "popen: " << strerror(errno);
    std::string all;
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        all.append(buf, n);
    int st = pclose(f);
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0)
        << "node tests/unit/dataplane/sample_vectors.js failed (status " << st
        << "); is node >= 20 installed and is the working directory the repository root?";

    std::istringstream in(all);
    std::string line;
    size_t counts[256] = { 0 }, failures = 0;
    auto fail = [&](const std::string &l, const std::string &why) {
        if (++failures <= 20)
            ADD_FAILURE() << why << "\n  vector: " << l.substr(0, 400);
    };
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::vector<std::string> f;
        std::string w;
        while (ls >> w)
            f.push_back(w);
        if (f.empty())
            continue;
        const char kind = f[0][0];
        counts[(unsigned char)kind]++;
        if (kind == 'H' && f.size() == 7) {
            uint32_t seed = (uint32_t)std::stoul(f[1]);
            Id id = tid(f[2]);
            uint32_t rate = lr_dp_sample_hash_seed_rate(dbl(f[3]));
            if (rate != std::stoul(f[4]))
                fail(line, "hash_seed rate " + std::to_string(rate));
            if (lr_dp_sample_hash_seed(id.data(), seed, (uint32_t)std::stoul(f[4])) !=
                (f[5] == "1"))
                fail(line, "hash_seed decision");
            if (lr_dp_sample_hash_seed_randomness(id.data(), seed) != u64(f[6]))
                fail(line, "hash_seed randomness");
        } else if (kind == 'T' && f.size() == 5) {
            uint64_t th = lr_dp_sample_threshold(dbl(f[1]), std::stoi(f[2]));
            if (th != u64(f[3]))
                fail(line, "threshold " + std::to_string(th));
            if (enc(th) != unhex(f[4]))
                fail(line, "th encoding " + enc(th));
        } else if (kind == 'P' && f.size() == 3) {
            double p = lr_dp_sample_threshold_probability(u64(f[1])), want = dbl(f[2]);
            if (memcmp(&p, &want, sizeof(p)) != 0)
                fail(line, "probability");
        } else if (kind == 'R' && f.size() == 7) {
            std::string ts = unhex(f[1]);
            lr_dp_sample_ts_info info{};
            int rc = lr_dp_sample_ts_parse(ts.data(), ts.size(), &info);
            if ((rc == 0) != (f[2] == "1") || (rc != 0 && rc != LR_E_MALFORMED)) {
                fail(line, "parse rc " + std::to_string(rc));
                continue;
            }
            if (rc == 0 &&
                (info.has_rv != (f[3] == "1") || info.has_th != (f[5] == "1") ||
                 (info.has_rv && info.rv != u64(f[4])) || (info.has_th && info.th != u64(f[6]))))
                fail(line, "parse result");
        } else if (kind == 'S' && f.size() == 4) {
            std::string got = set_th(unhex(f[1]), u64(f[2]));
            std::string want = f[3] == "!" ? "!" : unhex(f[3]);
            if (got != want)
                fail(line, "set_th gave '" + got + "' want '" + want + "'");
        } else if (kind == 'D' && f.size() == 15) {
            lr_dp_sample_cfg c = cfg((lr_dp_sample_mode)std::stoi(f[1]), dbl(f[2]), std::stoi(f[4]),
                                     f[5] == "1", (uint32_t)std::stoul(f[3]));
            Decision d = decide(c, tid(f[7]), unhex(f[8]), (lr_dp_sample_priority)std::stoi(f[6]));
            std::string want_ts = f[10] == "1" ? unhex(f[11]) : "-";
            if (d.r.keep != (f[9] == "1") || d.r.ts_rewritten != (f[10] == "1") ||
                d.ts != want_ts || d.r.threshold != u64(f[12]) || d.r.randomness != u64(f[13]) ||
                (int)d.r.err != std::stoi(f[14]))
                fail(line, "decision keep=" + std::to_string(d.r.keep) + " ts='" + d.ts +
                               "' th=" + std::to_string(d.r.threshold) +
                               " rnd=" + std::to_string(d.r.randomness) +
                               " err=" + std::to_string(d.r.err) + " want ts='" + want_ts + "'");
        } else {
            fail(line, "unknown vector line");
        }
    }
    EXPECT_EQ(failures, 0u);
    // The generator must have produced every kind, in bulk.
    EXPECT_GT(counts['H'], 10000u);
    EXPECT_GT(counts['T'], 1000u);
    EXPECT_GT(counts['P'], 100u);
    EXPECT_GT(counts['R'], 300u);
    EXPECT_GT(counts['S'], 1000u);
    EXPECT_GT(counts['D'], 5000u);
}

// ---- 2. the Collector's own vectors ------------------------------------------------------------

TEST(SampleHashSeed, CollectorTestHashingFunction)
{
    // tracesprocessor_test.go TestHashingFunction: 50%, {seed, trace id, sampled}.
    struct {
        uint32_t seed;
        const char *id;
        bool sampled;
    } v[] = {
        { 653, "474a03c76d75951a4b4c537ced8f1122", true },
        { 563, "53a518291e91307e43cd8467bb06f986", true },
        { 142, "a56a02f843b9bc6ee0b13889249e90e6", true },
        { 904, "4e40762d3ee97a1c0932e4fa584f89a8", false },
        { 445, "5224507db93db513f0ea2a4b4e0578c8", true },
        { 38, "0c8717ced36216037af657e9d7f8b35b", true },
        { 561, "2a8aa76c18d08e1e8be935541f9318c7", false },
        { 757, "9e3d0f9481dc422cb613ea550897ae71", false },
        { 22, "66a66c516ac22054673e5da5e6492545", false },
        { 172, "84a1ce7bcea3e66194e72b4aa2694e31", true },
        { 552, "a811a7def34ca4b98d8e320afd115fad", false },
        { 546, "e3a345cc8dbb6f014bfa1edad3981820", true },
        { 315, "a71effb50e28d27cbdc9892f3765b8c2", false },
        { 510, "55ee665a3fa22f8ea1b744ce15a7339d", false },
        { 230, "7a5006be4d0ce7b542d59f83cd6f1c41", false },
        { 544, "825b8fb9cfd45867794f4cd8a5a699bd", false },
        { 790, "7629ecbea89398bfd9752a2f51c2c137", true },
        { 555, "de6cdfb44d69e211f886c57120d7bda0", true },
        { 147, "a8a5c3bb9205883fae17ead6675b2450", false },
        { 238, "937e6cb3332dbe87062fa3997f48f425", false },
        { 122, "5a357e150995e005847816c431ba502d", false },
        { 963, "20cb3dcebe2cf8abe6102f4a2e548245", false },
        { 141, "1b0afbd09abaaf7996cd26f8f6533795", false },
        { 666, "3ee60b013303bcfda06be89071b90bd1", true },
        { 305, "c90c7cf3471bbc3a804a8a831633705b", true },
        { 270, "18dda74dfca45a7b0261510f385fb4de", true },
        { 381, "600cf70c7bb4918e54aefd78c84f3996", true },
        { 35, "855f493c5b5b1e2fcbc9993f8061eac8", false },
        { 839, "89bc498feb21d969cf0eabf916aa621a", false },
        { 561, "0a0af00f63e098a39883705a423b0aa8", true },
        { 667, "0c38553d71f54dfc37155c22cc8bf243", false },
        { 603, "49493809d1a49ea879e6aba37afde958", true },
        { 92, "eb60d98b8f8fe22d8970f44f0e2b6bad", true },
        { 70, "19c386ee7a9f2d56ff9ab2e6374540af", false },
        { 567, "2a033c15405f1c7a311f653719ed47b7", false },
        { 936, "62dda24e4be24f5198e4d8dd4010c811", true },
        { 210, "bb134e26ee92e282e29cabdb1d00d333", true },
        { 835, "6c77db08bbded7bdd5c99c6e2fea41d2", false },
        { 864, "99f6a7e7b50845b4fb64b7c2ee49f53c", true },
        { 775, "e908cb91224bee8fd4b5f3632f65717f", true },
        { 687, "45a5ace7234d92d9983b4f3858bc0b8e", false },
        { 761, "8c8a25d232fd4d3a37a5f70ccb82d752", false },
        { 400, "54156d7434a894ef07f2a80dbf0f1138", true },
        { 741, "67e3bfb02b0526dbb79420468d7b83dd", false },
        { 871, "f6ea221283dcb42f89bfb15fa33398d2", false },
        { 244, "b663ca45004decf8123a19fb5d7f7115", true },
        { 885, "d0e299d54d6dc6469276fd4e48301d73", true },
        { 607, "03240c2748aa67a185909a9345d84aba", false },
        { 434, "b00de72ba67e6fe0ed661decac911f7e", true },
        { 889, "20fff68a7cc715b30e4e6d69d53e0f60", false },
        { 810, "6bf2bb105e594f6220803da5253551af", false },
        { 494, "54fbb1d3ebe3883b0a01bbf2c9a2bf3e", true },
        { 413, "a8a2ecba129d8537e360cf54de9d7460", false },
        { 215, "2df034262b775136f2a313fdcc09738a", true },
        { 557, "e3c1b943d9c1199d1108a69aa32a4587", false },
        { 662, "1975d5f5640bac1064d53c2c21e02aae", false },
        { 482, "6e4f16727dec3c09539b5f50d35d2c13", false },
        { 223, "63a088446ef0ed60a9cace4698ede026", false },
        { 261, "9b662cd6f67a4e3d1f904b4c5d4275b1", true },
        { 112, "a2db788dbadc402b8c466b93b8749a6c", true },
        { 6, "d6a68b47c66d1f94eed46b8ddc72faf4", false },
        { 575, "e8a83c42f4515568d0942ec4472c9d2c", true },
        { 568, "030e14c2954e3f08134b355f33414ba9", false },
        { 965, "022315846d42a38322d6fd26250444b3", true },
        { 512, "b3ba1ed226288dede87ac1f2ba88de2b", true },
        { 108, "c57d0dcf43d5b154ef04c7953c94cd12", true },
        { 248, "a835fe521d9cbfcfb724b603f87c7403", false },
        { 46, "eda867e6df95e74abefac336c7f4cd1a", false },
        { 879, "09e9e67a261ea3e00d817105b57ffd4e", false },
        { 853, "6a780cf250cb3d2b699394042e6723a8", false },
        { 639, "4c99d7f14c66b3123caf57980f8e2a31", false },
        { 111, "79dc8d7a54bc3e8ef513b9cd8d830564", true },
        { 135, "9c2e5d9d713e5219b0f9e5b884835e69", false },
        { 209, "3ccb300bf7b983229979e0c46db267b0", true },
        { 629, "0bb7b9da64da250c3934bb39130dc990", true },
        { 910, "b25713ca4cea377871eaa334bc2dd382", true },
        { 667, "69afc041003851cec60f41db97e005a9", true },
        { 449, "c844b5428abe0cf82eaf02566781870a", true },
        { 16, "2533c732bed8c1ba4721c25a1205f06c", false },
        { 936, "ecc770b4be885dfc8d6fa135bc2c93bb", true },
        { 595, "63b67cbb42de52e9916241ad94fcd5e8", true },
        { 83, "fc4998bc53ccd42a5b8e7c86a93d4c88", false },
        { 878, "59f0677dffe1a0a8c5895cb263e3a019", false },
        { 206, "eb897eff9e7c7363e063b340a0c6b315", true },
        { 710, "89e4c7e6af305be6cd139abcae953db5", true },
        { 650, "97563d45ee254231e1ace05fb746bcce", false },
        { 233, "3f580864f295ff13f179c3c907032ea9", true },
        { 836, "e9b78e03706265a6936bff2a41530104", false },
        { 568, "c458603ee921fa8711085c15b871b245", false },
        { 816, "4bbfffab5b5975c1b007ebc518bf416d", false },
        { 397, "61a1a65746287d78a431c6848ed1ffb3", false },
        { 847, "53eee02f4672a72e93369b2c2ecf36eb", false },
        { 354, "6ea23c3068a2c304488c8e67a072db97", false },
        { 961, "eed247645e510ded87bd9afcf1d3e237", false },
        { 799, "092af4ff2fdea5bb1c708b2169bdfd95", false },
        { 99, "497f02db51c898ac441aae18a8b7ced9", false },
        { 773, "988481445600bb91bbe23e3103034bcd", true },
        { 928, "f1813835ac0f456721ef3aac39c0269a", true },
        { 235, "1999920085682c007eb3a6984d2a7f05", true },
        { 460, "60c3b9a2dde734d71ba5cca7eb164bce", true },
    };
    uint32_t rate = lr_dp_sample_hash_seed_rate(50);
    ASSERT_EQ(rate, 0x2000u);
    for (const auto &t : v) {
        Id id = tid(t.id);
        EXPECT_EQ(lr_dp_sample_hash_seed(id.data(), t.seed, rate), t.sampled)
            << t.seed << " " << t.id;
        // The whole decision in hash_seed mode agrees and writes rv + th for kept spans.
        Decision d = decide(cfg(LR_DP_SAMPLE_HASH_SEED, 50, 4, true, t.seed), id, "");
        EXPECT_EQ(d.r.keep, t.sampled) << t.id;
        if (t.sampled) {
            char rv[15];
            snprintf(rv, sizeof(rv), "%014llx", (unsigned long long)d.r.randomness);
            EXPECT_EQ(d.ts, std::string("ot=rv:") + rv + ";th:8");
        }
    }
}

TEST(SampleHashSeed, CollectorEmptyHashAndTraceStateThresholds)
{
    // TestEmptyHashFunction: 16 zero bytes, seed 0 -> low 14 bits 0x2455.
    Id zero(16, 0);
    EXPECT_EQ(lr_dp_sample_hash_seed_randomness(zero.data(), 0) & 0x3fff, 0x2455u);
    EXPECT_TRUE(lr_dp_sample_hash_seed(zero.data(), 0, 0x2456));
    EXPECT_FALSE(lr_dp_sample_hash_seed(zero.data(), 0, 0x2455));

    // Test_tracesamplerprocessor_HashSeedTraceState: the th hash_seed mode writes.
    struct {
        double pct;
        const char *th;
    } v[] = { { 100, "0" }, { 75, "4" },    { 50, "8" },
              { 25, "c" },  { 10, "e668" }, { 100.0 / 3, "aaac" } };
    for (const auto &t : v) {
        lr_dp_sampler s;
        lr_dp_sample_cfg c = cfg(LR_DP_SAMPLE_HASH_SEED, t.pct, 4);
        ASSERT_EQ(lr_dp_sampler_init(&s, &c), 0);
        EXPECT_EQ(enc(s.threshold), t.th) << t.pct;
    }
}

TEST(SampleHashSeed, Rate)
{
    EXPECT_EQ(lr_dp_sample_hash_seed_rate(0), 0u);
    EXPECT_EQ(lr_dp_sample_hash_seed_rate(-5), 0u);
    EXPECT_EQ(lr_dp_sample_hash_seed_rate(NAN), 0u);
    EXPECT_EQ(lr_dp_sample_hash_seed_rate(100), 0x4000u);
    EXPECT_EQ(lr_dp_sample_hash_seed_rate(150), 0x4000u);
    EXPECT_EQ(lr_dp_sample_hash_seed_rate(INFINITY), 0x4000u);
    EXPECT_EQ(lr_dp_sample_hash_seed_rate(50), 0x2000u);
    EXPECT_EQ(lr_dp_sample_hash_seed_rate(10), 1638u);    // 1638.4 truncated
    EXPECT_EQ(lr_dp_sample_hash_seed_rate(0.01), 1u);     // 1.6384
    EXPECT_EQ(lr_dp_sample_hash_seed_rate(0.006), 0u);    // 0.98: the Collector never samples
    EXPECT_EQ(lr_dp_sample_hash_seed_rate(33.33), 5460u); // 5460.79 in float32
    EXPECT_EQ(lr_dp_sample_hash_seed_rate(99.99), 16382u);

    lr_dp_sampler s;
    lr_dp_sample_cfg c = cfg(LR_DP_SAMPLE_HASH_SEED, 0.006);
    ASSERT_EQ(lr_dp_sampler_init(&s, &c), 0);
    EXPECT_TRUE(s.never);
}

struct TsCase {
    const char *name;
    const char *tid;
    double pct;
    int prec;
    const char *ts;
    bool fail_closed;
    lr_dp_sample_priority prio;
    // expected per mode: kept and tracestate ("" when dropped)
    bool eq_keep;
    const char *eq_ts;
    bool prop_keep;
    const char *prop_ts;
};

TEST(SampleConsistent, CollectorTraceStateTable)
{
    // Test_tracesamplerprocessor_TraceState (tests build Config{} directly: precision 0 means
    // 14 digits, fail_closed false unless set).
    const char *def = "fefefefefefefefefe80000000000000";
    const char *improbable = "111111111111111111ffffffffffffff";
    const TsCase v[] = {
        { "100 percent", def, 100, 0, "", false, LR_DP_SAMPLE_PRIO_DEFER, true, "ot=th:0", true,
          "ot=th:0" },
        { "50 percent sampled", def, 50, 0, "", false, LR_DP_SAMPLE_PRIO_DEFER, true, "ot=th:8",
          true, "ot=th:8" },
        { "25 percent sampled", "ddddddddddddddddddc0000000000000", 25, 0, "", false,
          LR_DP_SAMPLE_PRIO_DEFER, true, "ot=th:c", true, "ot=th:c" },
        { "25 percent unsampled", "ddddddddddddddddddb0000000000000", 25, 0, "", false,
          LR_DP_SAMPLE_PRIO_DEFER, false, "", false, "" },
        { "1 percent sampled", def, 1, 0, "ot=rv:FD70A3D70A3D71", false, LR_DP_SAMPLE_PRIO_DEFER,
          true, "ot=rv:FD70A3D70A3D71;th:fd70a3d70a3d71", true,
          "ot=rv:FD70A3D70A3D71;th:fd70a3d70a3d71" },
        { "1 percent precision 4", def, 1, 4, "ot=rv:FD70A3D70A3D71", false,
          LR_DP_SAMPLE_PRIO_DEFER, true, "ot=rv:FD70A3D70A3D71;th:fd70a", true,
          "ot=rv:FD70A3D70A3D71;th:fd70a" },
        { "1 percent precision 3", def, 1, 3, "ot=rv:FD70A3D70A3D71", false,
          LR_DP_SAMPLE_PRIO_DEFER, false, "", false, "" },
        { "1 percent not sampled with rvalue", def, 1, 0, "ot=rv:FD70A3D70A3D70", false,
          LR_DP_SAMPLE_PRIO_DEFER, false, "", false, "" },
        { "49 percent not sampled", def, 49, 0, "", false, LR_DP_SAMPLE_PRIO_DEFER, false, "",
          false, "" },
        { "1 percent sampled with rvalue", def, 1, 0, "ot=rv:fd70B000000000", false,
          LR_DP_SAMPLE_PRIO_DEFER, true, "ot=rv:fd70B000000000;th:fd70a3d70a3d71", true,
          "ot=rv:fd70B000000000;th:fd70a3d70a3d71" },
        { "1 percent sampled with tid", "a0a0a0a0a0a0a0a0a0fe000000000000", 1, 4, "", false,
          LR_DP_SAMPLE_PRIO_DEFER, true, "ot=th:fd70a", true, "ot=th:fd70a" },
        { "sampled by priority", def, 1, 0, "", false, LR_DP_SAMPLE_PRIO_KEEP, true, "ot=th:0",
          true, "ot=th:0" },
        { "not sampled by priority", def, 99, 0, "", false, LR_DP_SAMPLE_PRIO_DROP, false, "",
          false, "" },
        { "incoming 50 percent with rvalue", def, 50, 0, "ot=rv:90000000000000;th:80000000000000",
          false, LR_DP_SAMPLE_PRIO_DEFER, true, "ot=rv:90000000000000;th:8", false, "" },
        { "incoming 50 percent at 25 percent not sampled", def, 25, 0, "ot=th:8", false,
          LR_DP_SAMPLE_PRIO_DEFER, false, "", false, "" },
        { "incoming 50 percent at 25 percent sampled", "ffffffffffffffffffffffffffffffff", 25, 0,
          "ot=th:8", false, LR_DP_SAMPLE_PRIO_DEFER, true, "ot=th:c", true, "ot=th:e" },
        { "equalizing vs proportional", def, 50, 0, "ot=rv:c0000000000000;th:8", false,
          LR_DP_SAMPLE_PRIO_DEFER, true, "ot=rv:c0000000000000;th:8", true,
          "ot=rv:c0000000000000;th:c" },
        { "inconsistent arriving threshold", def, 100, 0, "ot=rv:40000000000000;th:8", false,
          LR_DP_SAMPLE_PRIO_DEFER, true, "ot=rv:40000000000000;th:0", true,
          "ot=rv:40000000000000;th:0" },
        { "inconsistent arriving threshold not sampled", def, 1, 0, "ot=rv:40000000000000;th:8",
          true, LR_DP_SAMPLE_PRIO_DEFER, false, "", false, "" },
        { "40 percent precision 3 with rvalue", def, 40, 3, "ot=rv:a0000000000000", false,
          LR_DP_SAMPLE_PRIO_DEFER, true, "ot=rv:a0000000000000;th:99a", true,
          "ot=rv:a0000000000000;th:99a" },
        { "arriving 50 at 40 precision 6", "a0a0a0a0a0a0a0a0a0d0000000000000", 40, 6, "ot=th:8",
          false, LR_DP_SAMPLE_PRIO_DEFER, true, "ot=th:99999a", true, "ot=th:cccccd" },
        { "arriving 50 at 40 partly", "a0a0a0a0a0a0a0a0a0b0000000000000", 40, 3, "ot=th:8", false,
          LR_DP_SAMPLE_PRIO_DEFER, true, "ot=th:99a", false, "" },
        { "arriving 50 at 40 not sampled", "a0a0a0a0a0a0a0a0a080000000000000", 40, 3, "ot=th:8",
          false, LR_DP_SAMPLE_PRIO_DEFER, false, "", false, "" },
        { "200 percent equals 100 percent", def, 200, 0, "", false, LR_DP_SAMPLE_PRIO_DEFER, true,
          "ot=th:0", true, "ot=th:0" },
        { "tiny probability rounding", improbable, 100 * 0x1p-14, 0, "ot=th:fffc", false,
          LR_DP_SAMPLE_PRIO_DEFER, true, "ot=th:fffc", true, "ot=th:fffffff" },
        { "almost 100pct sampling", improbable, (1 - 8e-7) * 100, 10, "", false,
          LR_DP_SAMPLE_PRIO_DEFER, true, "ot=th:00000cccccccd", true, "ot=th:00000cccccccd" },
        { "probability underflow", improbable, 0x1p-4, 0, "ot=th:fffffffffffff8", false,
          LR_DP_SAMPLE_PRIO_DEFER, true, "ot=th:fffffffffffff8", false, "" },
    };
    for (const auto &t : v) {
        for (auto mode : { LR_DP_SAMPLE_EQUALIZING, LR_DP_SAMPLE_PROPORTIONAL }) {
            bool eq = mode == LR_DP_SAMPLE_EQUALIZING;
            // The Go test keeps the float32 of its percentage: (1 - 8e-7) * 100 is a constant.
            Decision d =
                decide(cfg(mode, (float)t.pct, t.prec, t.fail_closed), tid(t.tid), t.ts, t.prio);
            EXPECT_EQ(d.r.keep, eq ? t.eq_keep : t.prop_keep) << t.name << " eq=" << eq;
            if (d.r.keep) {
                EXPECT_EQ(d.ts, eq ? t.eq_ts : t.prop_ts) << t.name << " eq=" << eq;
            }
        }
    }
}

TEST(SampleConsistent, CollectorTraceStateErrors)
{
    // Test_tracesamplerprocessor_TraceStateErrors: fail_closed, all dropped.
    const char *def = "fefefefefefefefefe80000000000000";
    struct {
        const char *tid, *ts;
        lr_dp_sample_err err;
    } v[] = {
        { "00000000000000000000000000000000", "", LR_DP_SAMPLE_ERR_MISSING_RND },
        { def, "ot=rv:abababababababab", LR_DP_SAMPLE_ERR_TRACESTATE },
        { def, "ot=th:abababababababab", LR_DP_SAMPLE_ERR_TRACESTATE },
        { def, "ot=th:-1", LR_DP_SAMPLE_ERR_TRACESTATE },
        { "ffffffffffffffffff70000000000000", "ot=th:8", LR_DP_SAMPLE_ERR_INCONSISTENT },
        { def, "ot=th:8;rv:70000000000000", LR_DP_SAMPLE_ERR_INCONSISTENT },
    };
    for (const auto &t : v) {
        for (auto mode : { LR_DP_SAMPLE_EQUALIZING, LR_DP_SAMPLE_PROPORTIONAL }) {
            Decision d = decide(cfg(mode, 100, 0, true), tid(t.tid), t.ts);
            EXPECT_FALSE(d.r.keep) << t.ts;
            EXPECT_EQ(d.r.err, t.err) << t.ts;
            // Fail open keeps them; the tracestate is rewritten only when it parsed.
            d = decide(cfg(mode, 100, 0, false), tid(t.tid), t.ts);
            EXPECT_TRUE(d.r.keep) << t.ts;
            EXPECT_EQ(d.r.ts_rewritten, t.err != LR_DP_SAMPLE_ERR_TRACESTATE) << t.ts;
        }
    }
}

TEST(SampleHashSeed, CollectorMissingRandomness)
{
    // Test_tracessamplerprocessor_MissingRandomness: hash_seed mode, all-zero trace id.
    struct {
        double pct;
        bool fail_closed, sampled;
    } v[] = { { 0, true, false },  { 62, true, false }, { 100, true, false },
              { 0, false, false }, { 62, false, true }, { 100, false, true } };
    Id zero(16, 0);
    for (const auto &t : v) {
        Decision d = decide(cfg(LR_DP_SAMPLE_HASH_SEED, t.pct, 4, t.fail_closed), zero, "");
        EXPECT_EQ(d.r.keep, t.sampled) << t.pct << " " << t.fail_closed;
        EXPECT_EQ(d.r.err, t.pct == 0 ? LR_DP_SAMPLE_OK : LR_DP_SAMPLE_ERR_MISSING_RND);
        if (d.r.keep) { // setExplicitRandomness ran with AllProbabilitiesRandomness
            EXPECT_EQ(d.ts, "ot=rv:ffffffffffffff;th:0");
        }
    }
}

TEST(SampleHashSeed, TracestateInUse)
{
    Id id = tid("474a03c76d75951a4b4c537ced8f1122");
    Decision d = decide(cfg(LR_DP_SAMPLE_HASH_SEED, 50, 4, true, 653), id, "ot=th:8");
    EXPECT_FALSE(d.r.keep);
    EXPECT_EQ(d.r.err, LR_DP_SAMPLE_ERR_TH_IN_USE);
    d = decide(cfg(LR_DP_SAMPLE_HASH_SEED, 50, 4, false, 653), id, "ot=rv:11111111111111,k=v");
    EXPECT_TRUE(d.r.keep);
    EXPECT_EQ(d.r.err, LR_DP_SAMPLE_ERR_RV_IN_USE);
    EXPECT_FALSE(d.r.ts_rewritten); // the carrier is dropped: the tracestate stays as it came
    d = decide(cfg(LR_DP_SAMPLE_HASH_SEED, 50, 4, true, 653), id, " , congo=x ,ot=foo:bar");
    EXPECT_TRUE(d.r.keep);
    char rv[15];
    snprintf(rv, sizeof(rv), "%014llx", (unsigned long long)d.r.randomness);
    EXPECT_EQ(d.ts, std::string("ot=rv:") + rv + ";th:8;foo:bar,congo=x");
}

// ---- 3. hand-written edge cases ---------------------------------------------------------------

TEST(SampleThreshold, EncodeParseRoundTripsAndTruncations)
{
    std::vector<uint64_t> v = { 0,
                                1,
                                0x8ull << 52,
                                0xfd70a3d70a3d71,
                                0x00000cccccccd0,
                                (1ull << 56) - 1,
                                0x10000000000000,
                                0x0000000000000f };
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 2000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v.push_back((x & ((1ull << 56) - 1)) >> (4 * (i % 14)) << (4 * (i % 14)));
    }
    for (uint64_t th : v) {
        std::string s = enc(th);
        ASSERT_FALSE(s.empty());
        ASSERT_LE(s.size(), 14u);
        EXPECT_TRUE(th == 0 ? s == "0" : s.back() != '0') << s;
        uint64_t back = 1;
        ASSERT_EQ(lr_dp_sample_th_parse(s.data(), s.size(), &back), 0) << s;
        EXPECT_EQ(back, th) << s;
        // Every truncation parses to the threshold with the dropped digits zeroed.
        for (size_t n = 1; n < s.size(); n++) {
            ASSERT_EQ(lr_dp_sample_th_parse(s.data(), n, &back), 0);
            uint64_t mask = ~((1ull << (4 * (14 - n))) - 1);
            EXPECT_EQ(back, th & mask) << s << " prefix " << n;
        }
        EXPECT_EQ(lr_dp_sample_th_parse(s.data(), 0, &back), LR_E_MALFORMED);
        // Upper case parses too; trailing zeros up to 14 digits are the same value.
        std::string up = s, padded = s;
        for (char &c : up)
            c = (char)toupper((unsigned char)c);
        padded.resize(14, '0');
        ASSERT_EQ(lr_dp_sample_th_parse(up.data(), up.size(), &back), 0);
        EXPECT_EQ(back, th);
        ASSERT_EQ(lr_dp_sample_th_parse(padded.data(), padded.size(), &back), 0);
        EXPECT_EQ(back, th);
        padded.push_back('0');
        EXPECT_EQ(lr_dp_sample_th_parse(padded.data(), padded.size(), &back), LR_E_MALFORMED);
    }
    EXPECT_EQ(enc(LR_DP_SAMPLE_TH_NEVER), "");
    EXPECT_EQ(enc(LR_DP_SAMPLE_TH_NEVER + 1), "");
    uint64_t t;
    for (const char *bad : { "g", "-1", "+1", "0x1", " 1", "1 ", "1_0", "ffffffffffffff0" })
        EXPECT_EQ(lr_dp_sample_th_parse(bad, strlen(bad), &t), LR_E_MALFORMED) << bad;
}

TEST(SampleThreshold, RvParse)
{
    uint64_t rv = 0;
    EXPECT_EQ(lr_dp_sample_rv_parse("FD70A3D70A3D71", 14, &rv), 0);
    EXPECT_EQ(rv, 0xfd70a3d70a3d71u);
    EXPECT_EQ(lr_dp_sample_rv_parse("ffffffffffffff", 14, &rv), 0);
    EXPECT_EQ(rv, (1ull << 56) - 1);
    const std::string ok = "0123456789abcd";
    for (size_t n = 0; n < 14; n++)
        EXPECT_EQ(lr_dp_sample_rv_parse(ok.data(), n, &rv), LR_E_MALFORMED) << n;
    EXPECT_EQ(lr_dp_sample_rv_parse("0123456789abcde", 15, &rv), LR_E_MALFORMED);
    EXPECT_EQ(lr_dp_sample_rv_parse("0123456789abcg", 14, &rv), LR_E_MALFORMED);
    Id id = tid("fefefefefefefefefe80000000000001");
    EXPECT_EQ(lr_dp_sample_trace_randomness(id.data()), 0x80000000000001u);
}

TEST(SampleThreshold, KnownValues)
{
    EXPECT_EQ(lr_dp_sample_threshold(1, 4), 0u);
    EXPECT_EQ(lr_dp_sample_threshold(0.5, 4), 0x8ull << 52);
    EXPECT_EQ(enc(lr_dp_sample_threshold(0.01, 4)), "fd70a"); // one extra digit near 0
    EXPECT_EQ(enc(lr_dp_sample_threshold(0.01, 3)), "fd71");
    EXPECT_EQ(enc(lr_dp_sample_threshold(0.01, 0)), "fd70a3d70a3d71");
    EXPECT_EQ(enc(lr_dp_sample_threshold(0.4, 3)), "99a");
    EXPECT_EQ(enc(lr_dp_sample_threshold(0.6, 4)), "6666");
    EXPECT_EQ(enc(lr_dp_sample_threshold(0x1p-56, 4)), "ffffffffffffff");
    EXPECT_EQ(lr_dp_sample_threshold(0x1p-57, 4), LR_DP_SAMPLE_TH_NEVER);
    EXPECT_EQ(lr_dp_sample_threshold(0, 4), LR_DP_SAMPLE_TH_NEVER);
    EXPECT_EQ(lr_dp_sample_threshold(1.0000001, 4), LR_DP_SAMPLE_TH_NEVER);
    EXPECT_EQ(lr_dp_sample_threshold(NAN, 4), LR_DP_SAMPLE_TH_NEVER);
    EXPECT_EQ(lr_dp_sample_threshold(0.5, 99), lr_dp_sample_threshold(0.5, 14));
    EXPECT_EQ(lr_dp_sample_threshold_probability(0x8ull << 52), 0.5);
    EXPECT_EQ(lr_dp_sample_threshold_probability(LR_DP_SAMPLE_TH_NEVER), 0.0);
}

TEST(SampleTracestate, ParseAndRewrite)
{
    struct {
        const char *in;
        uint64_t th;
        const char *out; // "!" for LR_E_MALFORMED
    } v[] = {
        { "", 0x8ull << 52, "ot=th:8" },
        { "", LR_DP_SAMPLE_TH_NEVER, "" },
        { " , ot=th:1, , other=value ", 0x8ull << 52, "ot=th:8,other=value" },
        { "congo=t61rcWkgMzE,ot=th:8", 0xcull << 52, "ot=th:c,congo=t61rcWkgMzE" },
        { "ot=th:c;rv:d29d6a7215ced0;pn:abc,zz=vendorcontent", 0xeull << 52,
          "ot=rv:d29d6a7215ced0;th:e;pn:abc,zz=vendorcontent" },
        // An incoming th above the new one stays as received (probability never rises).
        { "ot=th:C", 0x8ull << 52, "ot=th:C" },
        { "ot=th:80000000000000", 0x8ull << 52, "ot=th:8" },
        { "ot=foo:bar;th:8,a=1,a=2", LR_DP_SAMPLE_TH_NEVER, "ot=foo:bar,a=1,a=2" },
        { "ot=th:8,ot=rv:11111111111111", 0, "ot=rv:11111111111111;th:0" }, // last ot wins
        { "a= b,\tc=d e\t", 0, "ot=th:0,a= b,c=d e" },
        { ",,,", 0, "ot=th:0" },
        { "ot=rv:abababababababab", 0, "!" },
        { "ot=th:", 0, "!" },
        { "ot=", 0, "!" },
        { "ot=th:8;", 0, "!" },
        { "ot=th:8=", 0, "!" },
        { "=", 0, "!" },
        { "a", 0, "!" },
        { "A=b", 0, "!" },
        { "a =b", 0, "!" },
    };
    for (const auto &t : v)
        EXPECT_EQ(set_th(t.in, t.th), t.out) << "'" << t.in << "'";

    // Limits: 31 members pass, the 32nd (empty ones count) fails; 1024 bytes pass, 1025 fail.
    std::string m31, m32;
    for (int i = 0; i < 31; i++)
        m31 += (i ? ",k" : "k") + std::to_string(i) + "=v";
    m32 = m31 + ",k31=v";
    EXPECT_EQ(lr_dp_sample_ts_parse(m31.data(), m31.size(), nullptr), 0);
    EXPECT_EQ(lr_dp_sample_ts_parse(m32.data(), m32.size(), nullptr), LR_E_MALFORMED);
    std::string e31 = "," + m31;
    EXPECT_EQ(lr_dp_sample_ts_parse(e31.data(), e31.size(), nullptr), LR_E_MALFORMED);
    std::string big = "x=" + std::string(1022, 'y');
    EXPECT_EQ(lr_dp_sample_ts_parse(big.data(), big.size(), nullptr), LR_E_MALFORMED); // value>256
    std::string wide;
    for (int i = 0; i < 4; i++)
        wide += (i ? ",k" : "k") + std::to_string(i) + "=" + std::string(250, 'v');
    wide += std::string(1024 - wide.size(), ' ');
    EXPECT_EQ(lr_dp_sample_ts_parse(wide.data(), wide.size(), nullptr), 0);
    wide += " ";
    EXPECT_EQ(lr_dp_sample_ts_parse(wide.data(), wide.size(), nullptr), LR_E_MALFORMED);
}

TEST(SampleTracestate, EveryPrefixAndSmallBuffers)
{
    const char *v[] = { "ot=th:c;rv:d29d6a7215ced0;pn:abc,zz=vendorcontent",
                        "congo=t61rcWkgMzE, ot=rv:1234567890abcd;th:fd7 ,rojo=00f067aa0ba902b7",
                        "tenant@sys=1,ot=th:2,a= b" };
    for (const char *s : v) {
        std::string in = s;
        for (size_t n = 0; n <= in.size(); n++) {
            std::string p = in.substr(0, n);
            char out[LR_DP_SAMPLE_TS_MAX_OUT];
            // Exact length buffers: no overrun under ASan, no NUL needed.
            ssize_t rc = lr_dp_sample_ts_set_th(p.data(), p.size(), 0xeull << 52, out, sizeof(out));
            ASSERT_TRUE(rc >= 0 || rc == LR_E_MALFORMED) << p;
            EXPECT_EQ(rc >= 0, lr_dp_sample_ts_parse(p.data(), p.size(), nullptr) == 0) << p;
            if (rc < 0)
                continue;
            std::string want(out, (size_t)rc);
            // The output parses again and rewrites to itself.
            EXPECT_EQ(set_th(want, 0xeull << 52), want);
            for (size_t cap = 0; cap < (size_t)rc; cap++) {
                std::vector<char> small(cap);
                EXPECT_EQ(
                    lr_dp_sample_ts_set_th(p.data(), p.size(), 0xeull << 52, small.data(), cap),
                    LR_E_TOO_LARGE);
            }
            std::vector<char> exact((size_t)rc);
            ASSERT_EQ(lr_dp_sample_ts_set_th(p.data(), p.size(), 0xeull << 52, exact.data(),
                                             exact.size()),
                      rc);
            EXPECT_EQ(std::string(exact.begin(), exact.end()), want);
        }
    }

    // The decision reports a small buffer, with the keep decision still set.
    lr_dp_sampler s;
    lr_dp_sample_cfg c = cfg(LR_DP_SAMPLE_PROPORTIONAL, 100);
    ASSERT_EQ(lr_dp_sampler_init(&s, &c), 0);
    Id id = tid("fefefefefefefefefe80000000000000");
    lr_dp_sample_result r;
    char small[4];
    EXPECT_EQ(lr_dp_sample_decide(&s, id.data(), "", 0, LR_DP_SAMPLE_PRIO_DEFER, small,
                                  sizeof(small), &r),
              LR_E_TOO_LARGE);
    EXPECT_TRUE(r.keep);
}

TEST(SampleDecide, InitValidation)
{
    lr_dp_sampler s;
    for (double bad : { (double)NAN, (double)INFINITY, -1.0, 1e-15, 1e300 }) {
        lr_dp_sample_cfg c = cfg(LR_DP_SAMPLE_PROPORTIONAL, bad, 4);
        EXPECT_EQ(lr_dp_sampler_init(&s, &c), -EINVAL) << bad;
    }
    for (int prec : { -1, 15 }) {
        lr_dp_sample_cfg c = cfg(LR_DP_SAMPLE_PROPORTIONAL, 10, prec);
        EXPECT_EQ(lr_dp_sampler_init(&s, &c), -EINVAL) << prec;
    }
    lr_dp_sample_cfg c = cfg((lr_dp_sample_mode)7, 10, 4);
    EXPECT_EQ(lr_dp_sampler_init(&s, &c), -EINVAL);
    c = cfg(LR_DP_SAMPLE_PROPORTIONAL, 1e-12, 4); // ratio 1e-14 >= 2^-56
    EXPECT_EQ(lr_dp_sampler_init(&s, &c), 0);
    c = cfg(LR_DP_SAMPLE_PROPORTIONAL, 0, 4);
    ASSERT_EQ(lr_dp_sampler_init(&s, &c), 0);
    EXPECT_TRUE(s.never);
    // percentage 0: nothing is kept, but priority still forces a keep (th:0 written).
    Id id = tid("111111111111111111ffffffffffffff");
    Decision d = decide(c, id, "k=v");
    EXPECT_FALSE(d.r.keep);
    d = decide(c, id, "k=v", LR_DP_SAMPLE_PRIO_KEEP);
    EXPECT_TRUE(d.r.keep);
    EXPECT_EQ(d.ts, "ot=th:0,k=v");
}

} // namespace
