// Tests control/spool.c: CRC32C, the record encoding and the segment scan (every truncated prefix,
// every bit flip), then the spool itself in a temporary folder: recovery after reopen, the reader
// against the writer (also concurrently), delivery out of order, trimming, the checkpoint, rewind,
// torn and corrupt segments, damage found at read time, the full watermark, ENOSPC on a tiny
// tmpfs, the syncer, and a random walk of all of these checked against a model.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <set>
#include <string>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern "C" {
#include "linerate/spool.h"
}

namespace
{

int rm_entry(const char *path, const struct stat *, int, struct FTW *)
{
    return remove(path);
}

// A folder under /tmp, removed with everything in it.
struct TempDir {
    std::string path;
    TempDir()
    {
        char t[] = "/tmp/lr_spool_test_XXXXXX";
        const char *p = mkdtemp(t);
        EXPECT_NE(p, nullptr) << strerror(errno);
        path = p ? p : "/tmp/lr_spool_test_failed";
    }
    ~TempDir() { nftw(path.c_str(), rm_entry, 16, FTW_DEPTH | FTW_PHYS); }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
};

struct Rec {
    lr_signal sig;
    std::string key;
    std::string value;
    uint64_t n_items;
};

lr_cp_spool_rec view(const Rec &r)
{
    lr_cp_spool_rec v;
    v.signal = r.sig;
    v.key_len = (uint8_t)r.key.size();
    v.key = r.key.data();
    v.n_items = r.n_items;
    v.value = (const uint8_t *)r.value.data();
    v.len = r.value.size();
    return v;
}

size_t rec_bytes(const Rec &r)
{
    return LR_SPOOL_REC_HDR + r.key.size() + r.value.size();
}

// A segment (header included) holding `recs` from seq `first`; *starts gets each record's offset.
std::vector<uint8_t> segment(const std::vector<Rec> &recs, uint64_t first, uint32_t worker = 0,
                             std::vector<size_t> *starts = nullptr)
{
    std::vector<uint8_t> b(LR_SPOOL_SEG_HDR);
    uint64_t magic = LR_SPOOL_SEG_MAGIC;
    uint32_t version = 1;
    memcpy(b.data(), &magic, 8);
    memcpy(b.data() + 8, &version, 4);
    memcpy(b.data() + 12, &worker, 4);
    for (size_t i = 0; i < recs.size(); i++) {
        size_t at = b.size();
        if (starts)
            starts->push_back(at);
        b.resize(at + rec_bytes(recs[i]));
        lr_cp_spool_rec v = view(recs[i]);
        size_t n = lr_cp_spool_encode(b.data() + at, b.size() - at, &v, first + i);
        EXPECT_EQ(n, rec_bytes(recs[i]));
    }
    return b;
}

const std::vector<Rec> &three()
{
    static const std::vector<Rec> r = {
        { LR_SIG_TRACES, "0123456789abcdef0123456789abcdef", "span bytes", 3 },
        { LR_SIG_METRICS, "", "", 0 },
        { LR_SIG_LOGS, "k", std::string(300, 'x'), 7 },
    };
    return r;
}

// What the reader returned, with the value copied out (and freed).
struct Got {
    uint64_t seq = 0;
    lr_signal sig = LR_SIG_TRACES;
    std::string key;
    std::string value;
    uint64_t n_items = 0;
};

int read_one(lr_cp_spool *s, Got *g)
{
    lr_cp_spool_msg m;
    memset(&m, 0, sizeof(m));
    int rc = lr_cp_spool_read(s, &m);
    if (rc == 1) {
        g->seq = m.seq;
        g->sig = m.signal;
        g->key.assign(m.key, m.key_len);
        g->value.assign((const char *)m.value, m.len);
        g->n_items = m.n_items;
        free(m.value);
    }
    return rc;
}

std::vector<Got> read_all(lr_cp_spool *s)
{
    std::vector<Got> v;
    Got g;
    int rc;
    while ((rc = read_one(s, &g)) == 1)
        v.push_back(g);
    EXPECT_EQ(rc, 0);
    return v;
}

std::vector<uint64_t> seqs(const std::vector<Got> &v)
{
    std::vector<uint64_t> r;
    for (const Got &g : v)
        r.push_back(g.seq);
    return r;
}

std::vector<uint64_t> range(uint64_t a, uint64_t b) // [a, b]
{
    std::vector<uint64_t> r;
    for (uint64_t i = a; i <= b; i++)
        r.push_back(i);
    return r;
}

// The record with seq `seq` in the generated streams: its content is a function of its seq.
Rec gen(uint64_t seq, size_t value_len)
{
    Rec r;
    r.sig = (lr_signal)(seq % LR_SIG_COUNT);
    char key[8];
    snprintf(key, sizeof(key), "k%03u", (unsigned)(seq % 1000)); // fixed size: sizes add up
    r.key = key;
    r.value.resize(value_len);
    for (size_t i = 0; i < value_len; i++)
        r.value[i] = (char)(seq * 31 + i);
    r.n_items = seq * 3;
    return r;
}

bool matches(const Got &g, size_t value_len)
{
    Rec r = gen(g.seq, value_len);
    return g.sig == r.sig && g.key == r.key && g.value == r.value && g.n_items == r.n_items;
}

// Options for a spool under `dir`: 1 MiB segments, a 1 ms group commit, no watermark.
struct Opts {
    std::string keep; // the folder; o.dir points into it
    lr_cp_spool_opts o;
    explicit Opts(const std::string &dir) : keep(dir)
    {
        memset(&o, 0, sizeof(o));
        o.dir = keep.c_str();
        o.worker = 0;
        o.segment_bytes = 1 << 20;
        o.commit_interval_us = 1000;
        o.high_bytes = 0;
        o.low_bytes = 0;
        o.notify_fd = -1;
    }
    Opts(const Opts &) = delete;
    Opts &operator=(const Opts &) = delete;
};

// An open spool, closed at the end of the scope.
struct Spool {
    lr_cp_spool *s = nullptr;
    lr_cp_spool_recovery rep;
    std::string err;
    explicit Spool(const lr_cp_spool_opts &o) { open(o); }
    ~Spool() { close(); }
    Spool(const Spool &) = delete;
    Spool &operator=(const Spool &) = delete;
    void open(const lr_cp_spool_opts &o)
    {
        char e[512] = "";
        memset(&rep, 0, sizeof(rep));
        int rc = lr_cp_spool_open(&o, &s, &rep, e, sizeof(e));
        err = e;
        EXPECT_EQ(rc, 0) << err;
        EXPECT_EQ(rc == 0, s != nullptr);
    }
    void close()
    {
        lr_cp_spool_close(s);
        s = nullptr;
    }
    void reopen(const lr_cp_spool_opts &o)
    {
        close();
        open(o);
    }
    uint64_t append(const std::vector<Rec> &recs)
    {
        std::vector<lr_cp_spool_rec> v;
        for (const Rec &r : recs)
            v.push_back(view(r));
        uint64_t last = 0;
        int rc = lr_cp_spool_append(s, v.data(), v.size(), &last);
        EXPECT_EQ(rc, 0) << strerror(-rc);
        return last;
    }
    uint64_t append_gen(uint64_t n, size_t value_len) // one record per call
    {
        uint64_t last = 0;
        for (uint64_t i = 0; i < n; i++)
            last = append({ gen(lr_cp_spool_written_seq(s) + 1, value_len) });
        return last;
    }
};

std::string wdir(const std::string &dir, uint32_t worker = 0)
{
    return dir + "/w" + std::to_string(worker);
}

std::vector<std::string> seg_files(const std::string &dir)
{
    std::vector<std::string> v;
    DIR *d = opendir(dir.c_str());
    if (!d)
        return v;
    while (struct dirent *e = readdir(d)) {
        std::string n = e->d_name;
        if (n.size() > 4 && n.substr(n.size() - 4) == ".seg")
            v.push_back(n);
    }
    closedir(d);
    std::sort(v.begin(), v.end());
    return v;
}

uint64_t file_size(const std::string &path)
{
    struct stat st;
    return stat(path.c_str(), &st) == 0 ? (uint64_t)st.st_size : 0;
}

uint64_t disk_bytes(const std::string &dir)
{
    uint64_t n = 0;
    for (const std::string &f : seg_files(dir))
        n += file_size(dir + "/" + f);
    return n;
}

std::vector<uint8_t> read_bytes(const std::string &path)
{
    std::vector<uint8_t> b;
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0)
        return b;
    uint8_t buf[65536];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0)
        b.insert(b.end(), buf, buf + n);
    ::close(fd);
    return b;
}

void write_bytes(const std::string &path, const std::vector<uint8_t> &b)
{
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << path << ": " << strerror(errno);
    ASSERT_EQ(::write(fd, b.data(), b.size()), (ssize_t)b.size());
    ::close(fd);
}

std::string seg_name(uint64_t first)
{
    char b[32];
    snprintf(b, sizeof(b), "%020llu.seg", (unsigned long long)first);
    return b;
}

// ---- CRC32C ---------------------------------------------------------------------------------

TEST(SpoolCrc, CheckValues)
{
    // The check value, and the iSCSI test vectors of RFC 3720 B.4.
    std::vector<uint8_t> inc(32), dec(32);
    for (int i = 0; i < 32; i++) {
        inc[i] = (uint8_t)i;
        dec[i] = (uint8_t)(31 - i);
    }
    struct {
        const char *name;
        std::vector<uint8_t> in;
        uint32_t crc;
    } cases[] = {
        { "empty", {}, 0x00000000u },
        { "123456789", { '1', '2', '3', '4', '5', '6', '7', '8', '9' }, 0xe3069283u },
        { "32 zeros", std::vector<uint8_t>(32, 0), 0x8a9136aau },
        { "32 ones", std::vector<uint8_t>(32, 0xff), 0x62a8ab43u },
        { "incrementing", inc, 0x46dd794eu },
        { "decrementing", dec, 0x113fdb5cu },
    };
    for (const auto &c : cases)
        EXPECT_EQ(lr_cp_crc32c(c.in.data(), c.in.size()), c.crc) << c.name;
}

// ---- encode and scan ------------------------------------------------------------------------

TEST(SpoolFormat, EncodeLayout)
{
    Rec r = { LR_SIG_LOGS, "key", "value!", 42 };
    lr_cp_spool_rec v = view(r);
    std::vector<uint8_t> b(rec_bytes(r));
    ASSERT_EQ(lr_cp_spool_encode(b.data(), b.size(), &v, 0x0102030405060708ull), b.size());
    const uint8_t want_hdr[] = {
        'L',  'R',  'S',  'R',  9,    0,    0,    0,    0,  0, 0, 0, 2, 3, 0, 0,
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 42, 0, 0, 0, 0, 0, 0, 0,
    };
    std::vector<uint8_t> hdr(b.begin(), b.begin() + 32);
    uint32_t crc;
    memcpy(&crc, &b[8], 4);
    memset(&hdr[8], 0, 4);
    EXPECT_EQ(hdr, std::vector<uint8_t>(want_hdr, want_hdr + 32));
    EXPECT_EQ(std::string(b.begin() + 32, b.end()), "keyvalue!");
    // The CRC covers bytes 12..32 of the header and the payload.
    std::vector<uint8_t> covered(b.begin() + 12, b.end());
    EXPECT_EQ(crc, lr_cp_crc32c(covered.data(), covered.size()));
}

TEST(SpoolFormat, EncodeRejects)
{
    Rec ok = { LR_SIG_TRACES, "abc", "value", 1 };
    lr_cp_spool_rec v = view(ok);
    std::vector<uint8_t> b(rec_bytes(ok) + 8);
    EXPECT_EQ(lr_cp_spool_encode(b.data(), rec_bytes(ok), &v, 1), rec_bytes(ok));
    EXPECT_EQ(lr_cp_spool_encode(b.data(), rec_bytes(ok) - 1, &v, 1), 0u) << "one byte short";
    EXPECT_EQ(lr_cp_spool_encode(b.data(), 31, &v, 1), 0u) << "no room for the header";
    std::string key33(33, 'k');
    lr_cp_spool_rec bad = v;
    bad.key = key33.data();
    bad.key_len = 33;
    std::vector<uint8_t> big(256);
    EXPECT_EQ(lr_cp_spool_encode(big.data(), big.size(), &bad, 1), 0u) << "key too long";
    bad = v;
    bad.signal = (lr_signal)LR_SIG_COUNT;
    EXPECT_EQ(lr_cp_spool_encode(big.data(), big.size(), &bad, 1), 0u) << "unknown signal";
}

TEST(SpoolFormat, ScanRoundTrip)
{
    struct {
        const char *name;
        std::vector<Rec> recs;
        uint64_t first;
    } cases[] = {
        { "no records", {}, 1 },
        { "three", three(), 1 },
        { "three from 1000", three(), 1000 },
        { "one empty", { { LR_SIG_LOGS, "", "", 0 } }, 5 },
        { "key only", { { LR_SIG_METRICS, std::string(32, 'q'), "", 9 } }, 2 },
        { "big value", { { LR_SIG_TRACES, "t", std::string(200000, 'v'), 1 } }, 77 },
    };
    for (const auto &c : cases) {
        std::vector<uint8_t> b = segment(c.recs, c.first);
        for (uint64_t expect : { (uint64_t)0, c.first }) {
            uint64_t n = 9, first = 9, last = 9;
            char why[128] = "x";
            size_t valid =
                lr_cp_spool_scan(b.data(), b.size(), expect, &n, &first, &last, why, sizeof(why));
            EXPECT_EQ(valid, b.size()) << c.name;
            EXPECT_EQ(n, c.recs.size()) << c.name;
            EXPECT_EQ(first, c.recs.empty() ? 0 : c.first) << c.name;
            EXPECT_EQ(last, c.recs.empty() ? 0 : c.first + c.recs.size() - 1) << c.name;
            EXPECT_STREQ(why, "") << c.name;
        }
        if (!c.recs.empty()) {
            uint64_t n, first, last;
            char why[128] = "";
            size_t valid = lr_cp_spool_scan(b.data(), b.size(), c.first + 1, &n, &first, &last, why,
                                            sizeof(why));
            EXPECT_EQ(valid, LR_SPOOL_SEG_HDR) << c.name << ": wrong expect_seq";
            EXPECT_EQ(n, 0u) << c.name;
            EXPECT_NE(strstr(why, "seq"), nullptr) << c.name << ": " << why;
        }
    }
}

TEST(SpoolFormat, ScanSegmentHeader)
{
    std::vector<uint8_t> good = segment(three(), 1);
    struct {
        const char *name;
        size_t at;
        uint8_t x;
        size_t len;
        const char *why;
    } cases[] = {
        { "empty", 0, 0, 0, "short segment header" },
        { "15 bytes", 0, 0, 15, "short segment header" },
        { "magic", 0, 0x01, good.size(), "segment magic" },
        { "magic last byte", 7, 0x80, good.size(), "segment magic" },
        { "version", 8, 0x02, good.size(), "version" },
    };
    for (const auto &c : cases) {
        std::vector<uint8_t> b = good;
        b[c.at] ^= c.x;
        uint64_t n = 1, first = 1, last = 1;
        char why[128] = "";
        EXPECT_EQ(lr_cp_spool_scan(b.data(), c.len, 0, &n, &first, &last, why, sizeof(why)), 0u)
            << c.name;
        EXPECT_EQ(n, 0u) << c.name;
        EXPECT_NE(strstr(why, c.why), nullptr) << c.name << ": " << why;
    }
    // A NULL `why` is allowed.
    EXPECT_EQ(lr_cp_spool_scan(good.data(), 3, 0, nullptr, nullptr, nullptr, nullptr, 0), 0u);
}

TEST(SpoolFormat, ScanEveryTruncatedPrefix)
{
    std::vector<size_t> starts;
    std::vector<uint8_t> b = segment(three(), 10, 0, &starts);
    std::vector<size_t> bounds = { LR_SPOOL_SEG_HDR };
    for (size_t i = 1; i < starts.size(); i++)
        bounds.push_back(starts[i]);
    bounds.push_back(b.size());
    for (size_t len = 0; len <= b.size(); len++) {
        size_t want = 0, recs = 0;
        if (len >= LR_SPOOL_SEG_HDR)
            for (size_t i = 0; i < bounds.size(); i++)
                if (bounds[i] <= len) {
                    want = bounds[i];
                    recs = i;
                }
        uint64_t n, first, last;
        char why[128] = "";
        size_t valid = lr_cp_spool_scan(b.data(), len, 10, &n, &first, &last, why, sizeof(why));
        ASSERT_EQ(valid, want) << "prefix " << len;
        ASSERT_EQ(n, recs) << "prefix " << len;
        ASSERT_EQ(last, recs ? 10 + recs - 1 : 0) << "prefix " << len;
        bool whole = len == want && len >= LR_SPOOL_SEG_HDR;
        ASSERT_EQ(why[0] == '\0', whole) << "prefix " << len << ": " << why;
    }
}

TEST(SpoolFormat, ScanFieldDamage)
{
    // Damage in each field of the third record: the first two stay valid, the reason names it.
    std::vector<size_t> starts;
    std::vector<uint8_t> good = segment(three(), 1, 0, &starts);
    size_t r3 = starts[2];
    struct {
        const char *name;
        size_t at;
        uint8_t x;     // XORed into the byte at `at` ...
        int64_t set32; // ... or, when >= 0, the u32 at `at` set to this
        const char *why;
    } cases[] = {
        { "record magic", 0, 0x01, -1, "record magic" },
        { "len grows", 4, 0x40, -1, "short payload" },
        { "len shrinks", 4, 0, 1, "CRC" },
        { "len below key_len", 4, 0, 0, "shorter than its key" },
        { "crc", 8, 0x10, -1, "CRC" },
        { "signal", 12, 0x03, -1, "CRC" }, // logs -> metrics
        { "signal out of range", 12, 0x07, -1, "signal" },
        { "key_len", 13, 0x01, -1, "CRC" },
        { "key_len > 32", 13, 0x40, -1, "key" },
        { "reserved", 14, 0x01, -1, "reserved" },
        { "reserved high", 15, 0x80, -1, "reserved" },
        { "seq", 16, 0x01, -1, "CRC" },
        { "seq high byte", 23, 0x80, -1, "CRC" },
        { "n_items", 24, 0x02, -1, "CRC" },
        { "n_items high byte", 31, 0x01, -1, "CRC" },
        { "key", 32, 0x20, -1, "CRC" },
        { "value", 33, 0x20, -1, "CRC" },
        { "last byte", good.size() - 1 - r3, 0x01, -1, "CRC" },
    };
    for (const auto &c : cases) {
        std::vector<uint8_t> b = good;
        if (c.set32 >= 0) {
            uint32_t v = (uint32_t)c.set32;
            memcpy(&b[r3 + c.at], &v, 4);
        } else {
            b[r3 + c.at] ^= c.x;
        }
        uint64_t n, first, last;
        char why[128] = "";
        size_t valid = lr_cp_spool_scan(b.data(), b.size(), 1, &n, &first, &last, why, sizeof(why));
        EXPECT_EQ(valid, r3) << c.name;
        EXPECT_EQ(n, 2u) << c.name;
        EXPECT_EQ(first, 1u) << c.name;
        EXPECT_EQ(last, 2u) << c.name;
        EXPECT_NE(strstr(why, c.why), nullptr) << c.name << ": " << why;
    }
    // A record with seq 0 (seqs start at 1), even with a valid CRC.
    std::vector<uint8_t> b = segment({ three()[0] }, 0);
    uint64_t n;
    char why[128] = "";
    EXPECT_EQ(lr_cp_spool_scan(b.data(), b.size(), 0, &n, nullptr, nullptr, why, sizeof(why)),
              LR_SPOOL_SEG_HDR);
    EXPECT_NE(strstr(why, "seq 0"), nullptr) << why;
}

TEST(SpoolFormat, ScanEveryBitFlip)
{
    // Every single-bit flip outside the segment header's worker field (which the scan does not
    // check; open does) ends the valid data at the start of the record it hit.
    std::vector<size_t> starts;
    std::vector<uint8_t> good = segment(three(), 1, 0, &starts);
    for (size_t at = 0; at < good.size(); at++) {
        if (at >= 12 && at < 16)
            continue;
        size_t want = 0, recs = 0;
        for (size_t i = 0; i < starts.size(); i++)
            if (starts[i] <= at) {
                want = starts[i];
                recs = i;
            }
        for (int bit = 0; bit < 8; bit++) {
            std::vector<uint8_t> b = good;
            b[at] ^= (uint8_t)(1u << bit);
            uint64_t n, first, last;
            char why[128] = "";
            size_t valid =
                lr_cp_spool_scan(b.data(), b.size(), 1, &n, &first, &last, why, sizeof(why));
            ASSERT_EQ(valid, want) << "byte " << at << " bit " << bit;
            ASSERT_EQ(n, recs) << "byte " << at << " bit " << bit;
            ASSERT_NE(why[0], '\0') << "byte " << at << " bit " << bit;
        }
    }
}

// ---- the spool -----------------------------------------------------------------------------

TEST(Spool, OpenAppendCloseReopen)
{
    TempDir t;
    Opts o(t.path + "/a/b"); // mkdir -p
    std::vector<Rec> all;
    {
        Spool sp(o.o);
        ASSERT_NE(sp.s, nullptr);
        EXPECT_EQ(sp.rep.segments, 0u);
        EXPECT_EQ(sp.rep.records, 0u);
        EXPECT_EQ(sp.rep.pending, 0u);
        EXPECT_EQ(sp.rep.first_pending, 0u);
        EXPECT_EQ(sp.rep.next_seq, 1u);
        EXPECT_EQ(sp.rep.damaged, 0u);
        EXPECT_STREQ(sp.rep.damage, "");
        EXPECT_EQ(lr_cp_spool_written_seq(sp.s), 0u);
        EXPECT_EQ(lr_cp_spool_segments(sp.s), 1u);
        EXPECT_EQ(lr_cp_spool_used_bytes(sp.s), LR_SPOOL_SEG_HDR);
        struct {
            size_t n;
            uint64_t last;
        } batches[] = { { 1, 1 }, { 5, 6 }, { 10, 16 } };
        for (const auto &bt : batches) {
            std::vector<Rec> v;
            for (size_t i = 0; i < bt.n; i++)
                v.push_back(gen(all.size() + v.size() + 1, 10 * i));
            all.insert(all.end(), v.begin(), v.end());
            EXPECT_EQ(sp.append(v), bt.last);
            EXPECT_EQ(lr_cp_spool_written_seq(sp.s), bt.last);
        }
        uint64_t last = 99;
        EXPECT_EQ(lr_cp_spool_append(sp.s, nullptr, 0, &last), 0);
        EXPECT_EQ(last, 16u);
        EXPECT_EQ(lr_cp_spool_used_bytes(sp.s), disk_bytes(wdir(o.keep)));
    }
    Spool sp(o.o);
    EXPECT_EQ(sp.rep.segments, 1u);
    EXPECT_EQ(sp.rep.records, 16u);
    EXPECT_EQ(sp.rep.pending, 16u);
    EXPECT_EQ(sp.rep.first_pending, 1u);
    EXPECT_EQ(sp.rep.next_seq, 17u);
    EXPECT_EQ(sp.rep.damaged, 0u);
    EXPECT_EQ(sp.rep.cut_bytes, 0u);
    EXPECT_EQ(sp.rep.bytes, file_size(wdir(o.keep) + "/" + seg_name(1)));
    EXPECT_EQ(lr_cp_spool_written_seq(sp.s), 16u);
    EXPECT_EQ(lr_cp_spool_durable_seq(sp.s), 16u);
    EXPECT_EQ(lr_cp_spool_delivered_below(sp.s), 1u);
    std::vector<Got> got = read_all(sp.s);
    ASSERT_EQ(got.size(), all.size());
    for (size_t i = 0; i < got.size(); i++) {
        EXPECT_EQ(got[i].seq, i + 1);
        EXPECT_EQ(got[i].sig, all[i].sig);
        EXPECT_EQ(got[i].key, all[i].key);
        EXPECT_EQ(got[i].value, all[i].value);
        EXPECT_EQ(got[i].n_items, all[i].n_items);
    }
    EXPECT_EQ(lr_cp_spool_in_flight(sp.s), 16u);
    EXPECT_EQ(sp.append({ gen(17, 1) }), 17u);
}

TEST(Spool, OpenFails)
{
    TempDir t;
    write_bytes(t.path + "/file", { 1 });
    struct {
        const char *name;
        std::string dir;
    } cases[] = {
        { "under a file", t.path + "/file/x" },
        { "empty", "" },
    };
    for (const auto &c : cases) {
        Opts o(c.dir);
        lr_cp_spool *s = (lr_cp_spool *)1;
        char e[256] = "";
        EXPECT_EQ(lr_cp_spool_open(&o.o, &s, nullptr, e, sizeof(e)), -1) << c.name;
        EXPECT_EQ(s, nullptr) << c.name;
        EXPECT_NE(e[0], '\0') << c.name;
    }
    lr_cp_spool_close(nullptr);
}

TEST(Spool, ReaderStopsAtWritten)
{
    TempDir t;
    Opts o(t.path);
    Spool sp(o.o);
    Got g;
    EXPECT_EQ(read_one(sp.s, &g), 0);
    sp.append({ gen(1, 5), gen(2, 5), gen(3, 5) });
    EXPECT_EQ(seqs(read_all(sp.s)), range(1, 3));
    EXPECT_EQ(read_one(sp.s, &g), 0);
    sp.append({ gen(4, 5) });
    sp.append({ gen(5, 5) });
    std::vector<Got> v = read_all(sp.s);
    EXPECT_EQ(seqs(v), range(4, 5));
    for (const Got &x : v)
        EXPECT_TRUE(matches(x, 5));
    EXPECT_EQ(lr_cp_spool_in_flight(sp.s), 5u);
}

TEST(Spool, RecordsBiggerThanTheReadBuffer)
{
    // The reader buffers 1 MiB: records larger than that, exactly that, and ones that straddle
    // the end of a buffer fill, live and after a reopen.
    TempDir t;
    Opts o(t.path);
    o.o.segment_bytes = 64 << 20;
    std::vector<size_t> sizes = { 2621440, 10, 1 << 20, 716800, 716800, 0, 1048000, 3 };
    Spool sp(o.o);
    for (size_t i = 0; i < sizes.size(); i++)
        sp.append({ gen(i + 1, sizes[i]) });
    for (int pass = 0; pass < 2; pass++) {
        std::vector<Got> v = read_all(sp.s);
        ASSERT_EQ(v.size(), sizes.size()) << "pass " << pass;
        for (size_t i = 0; i < v.size(); i++) {
            EXPECT_EQ(v[i].seq, i + 1);
            EXPECT_EQ(v[i].value.size(), sizes[i]);
            EXPECT_TRUE(matches(v[i], sizes[i])) << "seq " << i + 1;
        }
        sp.reopen(o.o);
    }
}

TEST(Spool, ConcurrentWriterReader)
{
    // The worker appends while the output thread reads and delivers: small segments make it roll
    // (and trim) all the time; interval 0 keeps the syncer busy on the same fd.
    TempDir t;
    Opts o(t.path);
    o.o.segment_bytes = 16384;
    o.o.commit_interval_us = 0;
    Spool sp(o.o);
    const uint64_t total = 20000;
    auto vlen = [](uint64_t seq) { return (size_t)(seq * 7919 % 300); };
    std::atomic<bool> done{ false };
    std::thread writer([&] {
        struct Done {
            std::atomic<bool> &d;
            ~Done() { d = true; } // also when an assertion returns early
        } set_done{ done };
        uint64_t seq = 1;
        while (seq <= total) {
            size_t n = std::min<uint64_t>(1 + seq % 8, total - seq + 1);
            std::vector<Rec> v;
            for (size_t i = 0; i < n; i++)
                v.push_back(gen(seq + i, vlen(seq + i)));
            std::vector<lr_cp_spool_rec> rv;
            for (const Rec &r : v)
                rv.push_back(view(r));
            uint64_t last = 0;
            ASSERT_EQ(lr_cp_spool_append(sp.s, rv.data(), rv.size(), &last), 0);
            ASSERT_EQ(last, seq + n - 1);
            seq += n;
        }
    });
    uint64_t want = 1;
    bool ok = true;
    while (want <= total && ok) {
        lr_cp_spool_msg m;
        int rc = lr_cp_spool_read(sp.s, &m);
        if (rc < 0) {
            ADD_FAILURE() << "read: " << strerror(-rc);
            break;
        }
        if (rc == 0) {
            if (done && lr_cp_spool_written_seq(sp.s) < want)
                break; // the writer gave up: its failure is reported
            std::this_thread::yield();
            continue;
        }
        Got g;
        g.seq = m.seq;
        g.sig = m.signal;
        g.key.assign(m.key, m.key_len);
        g.value.assign((const char *)m.value, m.len);
        g.n_items = m.n_items;
        free(m.value);
        ok = g.seq == want && g.seq <= lr_cp_spool_written_seq(sp.s) && matches(g, vlen(g.seq));
        EXPECT_TRUE(ok) << "seq " << g.seq << ", want " << want;
        lr_cp_spool_delivered(sp.s, g.seq);
        want++;
    }
    writer.join();
    EXPECT_EQ(want, total + 1);
    EXPECT_EQ(lr_cp_spool_delivered_below(sp.s), total + 1);
    EXPECT_EQ(lr_cp_spool_in_flight(sp.s), 0u);
    EXPECT_EQ(lr_cp_spool_read_errors(sp.s), 0u);
    EXPECT_LE(lr_cp_spool_segments(sp.s), 2u);
    EXPECT_EQ(lr_cp_spool_segments(sp.s), seg_files(wdir(o.keep)).size());
    EXPECT_EQ(lr_cp_spool_used_bytes(sp.s), disk_bytes(wdir(o.keep)));
    EXPECT_EQ(lr_cp_spool_sync(sp.s), 0);
    EXPECT_EQ(lr_cp_spool_durable_seq(sp.s), total);
}

TEST(Spool, DeliveredOutOfOrder)
{
    struct {
        const char *name;
        std::vector<uint64_t> order;
        std::vector<uint64_t> below; // delivered_below after each
    } cases[] = {
        { "in order", { 1, 2, 3, 4, 5, 6 }, { 2, 3, 4, 5, 6, 7 } },
        { "reversed", { 6, 5, 4, 3, 2, 1 }, { 1, 1, 1, 1, 1, 7 } },
        { "mixed", { 3, 1, 2, 6, 5, 4 }, { 1, 2, 4, 4, 4, 7 } },
        { "twice and unknown", { 2, 2, 9, 0, 1, 1, 3, 4, 5, 6 }, { 1, 1, 1, 1, 3, 3, 4, 5, 6, 7 } },
    };
    for (const auto &c : cases) {
        TempDir t;
        Opts o(t.path);
        Spool sp(o.o);
        sp.append({ gen(1, 3), gen(2, 3), gen(3, 3), gen(4, 3), gen(5, 3), gen(6, 3) });
        EXPECT_EQ(read_all(sp.s).size(), 6u);
        for (size_t i = 0; i < c.order.size(); i++) {
            lr_cp_spool_delivered(sp.s, c.order[i]);
            EXPECT_EQ(lr_cp_spool_delivered_below(sp.s), c.below[i])
                << c.name << " after delivering " << c.order[i];
        }
        EXPECT_EQ(lr_cp_spool_in_flight(sp.s), 0u) << c.name;
    }
    // In flight: read, not reported.
    TempDir t;
    Opts o(t.path);
    Spool sp(o.o);
    sp.append({ gen(1, 3), gen(2, 3), gen(3, 3) });
    Got g;
    ASSERT_EQ(read_one(sp.s, &g), 1);
    ASSERT_EQ(read_one(sp.s, &g), 1);
    EXPECT_EQ(lr_cp_spool_in_flight(sp.s), 2u);
    lr_cp_spool_delivered(sp.s, 3); // not read yet: ignored
    EXPECT_EQ(lr_cp_spool_in_flight(sp.s), 2u);
    lr_cp_spool_delivered(sp.s, 2);
    EXPECT_EQ(lr_cp_spool_in_flight(sp.s), 1u);
    EXPECT_EQ(lr_cp_spool_delivered_below(sp.s), 1u);
    lr_cp_spool_delivered(sp.s, 1);
    EXPECT_EQ(lr_cp_spool_in_flight(sp.s), 0u);
    EXPECT_EQ(lr_cp_spool_delivered_below(sp.s), 3u);
}

TEST(Spool, WideInFlightWindow)
{
    // One record held up while thousands after it are delivered: the window grows past its
    // initial size, and the watermark jumps once the first one is delivered.
    TempDir t;
    Opts o(t.path);
    o.o.segment_bytes = 65536;
    Spool sp(o.o);
    const uint64_t n = 20000;
    std::vector<Rec> recs;
    for (uint64_t s = 1; s <= n; s++)
        recs.push_back(gen(s, 8));
    for (size_t i = 0; i < recs.size(); i += 1000)
        sp.append(std::vector<Rec>(recs.begin() + i, recs.begin() + i + 1000));
    EXPECT_EQ(read_all(sp.s).size(), n);
    uint32_t segs = lr_cp_spool_segments(sp.s);
    EXPECT_GT(segs, 5u);
    for (uint64_t s = n; s >= 2; s--) // backwards, all but the first
        lr_cp_spool_delivered(sp.s, s);
    EXPECT_EQ(lr_cp_spool_delivered_below(sp.s), 1u);
    EXPECT_EQ(lr_cp_spool_in_flight(sp.s), 1u);
    EXPECT_EQ(lr_cp_spool_segments(sp.s), segs) << "nothing wholly delivered yet";
    lr_cp_spool_rewind(sp.s);
    EXPECT_EQ(seqs(read_all(sp.s)), std::vector<uint64_t>{ 1 });
    lr_cp_spool_delivered(sp.s, 1);
    EXPECT_EQ(lr_cp_spool_delivered_below(sp.s), n + 1);
    EXPECT_EQ(lr_cp_spool_in_flight(sp.s), 0u);
    EXPECT_EQ(lr_cp_spool_segments(sp.s), 1u);
    // The window works on after the jump.
    sp.append({ gen(n + 1, 8), gen(n + 2, 8) });
    EXPECT_EQ(seqs(read_all(sp.s)), range(n + 1, n + 2));
    lr_cp_spool_delivered(sp.s, n + 2);
    lr_cp_spool_delivered(sp.s, n + 1);
    EXPECT_EQ(lr_cp_spool_delivered_below(sp.s), n + 3);
}

TEST(Spool, RandomOpsAgainstAModel)
{
    // Appends, reads, deliveries in any order (late ones after a rewind too), rewinds and
    // reopens, checked after every step against a model: the reader gives every undelivered seq
    // once per pass in order, the watermark is the first undelivered seq, in_flight what was read
    // since the last rewind and not delivered, and the files on disk are what the spool counts.
    auto vlen = [](uint64_t seq) { return (size_t)(seq * 2654435761u % 700); };
    for (uint32_t seed : { 1u, 2u, 3u }) {
        TempDir t;
        Opts o(t.path);
        o.o.segment_bytes = 2048;
        std::string w = wdir(o.keep);
        Spool sp(o.o);
        uint64_t written = 0, next = 1;
        std::vector<bool> delivered(1, true); // [seq]; seq 0 unused
        std::vector<uint64_t> readable;       // read at some point, not delivered (late acks ok)
        std::set<uint64_t> in_flight;         // read since the last rewind, not delivered
        auto below = [&] {
            uint64_t d = 1;
            while (d <= written && delivered[d])
                d++;
            return d;
        };
        srand(seed);
        for (int step = 0; step < 1500 && !HasFailure(); step++) {
            int op = rand() % 100;
            if (op < 25) { // append 1..4
                std::vector<Rec> v;
                for (int i = 0, n = 1 + rand() % 4; i < n; i++)
                    v.push_back(gen(written + 1 + i, vlen(written + 1 + i)));
                EXPECT_EQ(sp.append(v), written + v.size());
                written += v.size();
                delivered.resize(written + 1, false);
            } else if (op < 55) { // read a few
                for (int i = 0, n = 1 + rand() % 5; i < n; i++) {
                    while (next <= written && delivered[next])
                        next++;
                    Got g;
                    int rc = read_one(sp.s, &g);
                    if (next > written) {
                        EXPECT_EQ(rc, 0) << "step " << step;
                        break;
                    }
                    ASSERT_EQ(rc, 1) << "step " << step;
                    ASSERT_EQ(g.seq, next) << "step " << step;
                    EXPECT_TRUE(matches(g, vlen(g.seq)));
                    readable.push_back(g.seq);
                    in_flight.insert(g.seq);
                    next++;
                }
            } else if (op < 90) { // deliver a few, any order
                for (int i = 0, n = 1 + rand() % 6; i < n && !readable.empty(); i++) {
                    size_t k = (size_t)rand() % readable.size();
                    uint64_t seq = readable[k];
                    readable.erase(readable.begin() + (long)k);
                    if (delivered[seq])
                        continue; // read twice (after a rewind), delivered once
                    lr_cp_spool_delivered(sp.s, seq);
                    delivered[seq] = true;
                    in_flight.erase(seq);
                }
            } else if (op < 96) { // the producer is replaced
                lr_cp_spool_rewind(sp.s);
                next = below();
                in_flight.clear();
            } else { // restart: what was delivered above the watermark is replayed
                sp.reopen(o.o);
                uint64_t d = below();
                EXPECT_EQ(sp.rep.damaged, 0u);
                EXPECT_EQ(sp.rep.next_seq, written + 1);
                EXPECT_EQ(sp.rep.pending, written + 1 - d);
                for (uint64_t q = d; q <= written; q++)
                    delivered[q] = false;
                readable.clear();
                in_flight.clear();
                next = d;
            }
            ASSERT_EQ(lr_cp_spool_delivered_below(sp.s), below()) << "step " << step;
            ASSERT_EQ(lr_cp_spool_in_flight(sp.s), in_flight.size()) << "step " << step;
            ASSERT_EQ(lr_cp_spool_written_seq(sp.s), written) << "step " << step;
            ASSERT_EQ(lr_cp_spool_segments(sp.s), seg_files(w).size()) << "step " << step;
            ASSERT_EQ(lr_cp_spool_used_bytes(sp.s), disk_bytes(w)) << "step " << step;
        }
        EXPECT_EQ(lr_cp_spool_read_errors(sp.s), 0u);
    }
}

// Record of 1000 value bytes + "k<n>" key: three fit a 4096-byte segment, the fourth rolls.
constexpr size_t kVal = 1000;
constexpr uint64_t kSeg = 4096;

TEST(Spool, TrimsDeliveredClosedSegments)
{
    TempDir t;
    Opts o(t.path);
    o.o.segment_bytes = kSeg;
    Spool sp(o.o);
    std::string w = wdir(o.keep);
    sp.append_gen(30, kVal);
    ASSERT_EQ(seg_files(w).size(), 10u);
    EXPECT_EQ(lr_cp_spool_segments(sp.s), 10u);
    EXPECT_EQ(lr_cp_spool_used_bytes(sp.s), disk_bytes(w));
    for (uint64_t i = 0; i < 10; i++)
        EXPECT_EQ(seg_files(w)[i], seg_name(1 + 3 * i));
    EXPECT_EQ(read_all(sp.s).size(), 30u);

    struct {
        uint64_t upto;               // deliver 1..upto
        std::vector<uint64_t> files; // first seqs of the segments left
    } steps[] = {
        { 2, { 1, 4, 7, 10, 13, 16, 19, 22, 25, 28 } },
        { 3, { 4, 7, 10, 13, 16, 19, 22, 25, 28 } },
        { 7, { 7, 10, 13, 16, 19, 22, 25, 28 } },
        { 27, { 28 } },
        { 30, { 28 } }, // the active segment stays, even wholly delivered
    };
    uint64_t done = 0;
    for (const auto &st : steps) {
        for (; done < st.upto; done++)
            lr_cp_spool_delivered(sp.s, done + 1);
        std::vector<std::string> want;
        for (uint64_t f : st.files)
            want.push_back(seg_name(f));
        EXPECT_EQ(seg_files(w), want) << "delivered up to " << st.upto;
        EXPECT_EQ(lr_cp_spool_segments(sp.s), want.size());
        EXPECT_EQ(lr_cp_spool_used_bytes(sp.s), disk_bytes(w)) << "delivered up to " << st.upto;
    }
    // The next append rolls; the old active segment goes with the next delivery.
    sp.append_gen(1, kVal);
    EXPECT_EQ(seg_files(w).size(), 2u);
    std::vector<Got> v = read_all(sp.s);
    ASSERT_EQ(seqs(v), std::vector<uint64_t>{ 31 });
    lr_cp_spool_delivered(sp.s, 31);
    EXPECT_EQ(seg_files(w), std::vector<std::string>{ seg_name(31) });
    EXPECT_EQ(lr_cp_spool_used_bytes(sp.s), disk_bytes(w));
}

TEST(Spool, CheckpointSkipsDeliveredOnReopen)
{
    TempDir t;
    Opts o(t.path);
    o.o.segment_bytes = kSeg;
    std::string w = wdir(o.keep);
    {
        Spool sp(o.o);
        sp.append_gen(10, kVal); // segments 1-3, 4-6, 7-9, 10
        EXPECT_EQ(read_all(sp.s).size(), 10u);
        for (uint64_t s : { 1, 2, 3, 4, 6, 5 })
            lr_cp_spool_delivered(sp.s, s);
        lr_cp_spool_delivered(sp.s, 8); // beyond the watermark: replayed
        EXPECT_EQ(lr_cp_spool_delivered_below(sp.s), 7u);
    }
    Spool sp(o.o);
    EXPECT_EQ(sp.rep.pending, 4u);
    EXPECT_EQ(sp.rep.first_pending, 7u);
    EXPECT_EQ(sp.rep.next_seq, 11u);
    EXPECT_EQ(sp.rep.segments, 2u); // 7-9 and 10
    EXPECT_EQ(lr_cp_spool_delivered_below(sp.s), 7u);
    std::vector<Got> v = read_all(sp.s);
    EXPECT_EQ(seqs(v), range(7, 10));
    for (const Got &g : v)
        EXPECT_TRUE(matches(g, kVal));
    sp.close();

    // A damaged checkpoint replays everything still on disk.
    write_bytes(w + "/delivered", { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 });
    sp.open(o.o);
    EXPECT_EQ(sp.rep.pending, 4u);
    EXPECT_EQ(sp.rep.first_pending, 7u);
    EXPECT_EQ(seqs(read_all(sp.s)), range(7, 10));
    // Deliver everything: the checkpoint written at close says so, nothing is replayed.
    for (uint64_t s = 7; s <= 10; s++)
        lr_cp_spool_delivered(sp.s, s);
    sp.close();
    sp.open(o.o);
    EXPECT_EQ(sp.rep.pending, 0u);
    EXPECT_EQ(sp.rep.first_pending, 0u);
    EXPECT_EQ(sp.rep.next_seq, 11u);
    EXPECT_EQ(lr_cp_spool_delivered_below(sp.s), 11u);
    EXPECT_TRUE(read_all(sp.s).empty());
    EXPECT_EQ(sp.append({ gen(11, 1) }), 11u);
}

// Copies the segment files and the checkpoint of `from` into `to`: what a crash would leave.
void copy_spool(const std::string &from, const std::string &to)
{
    ASSERT_EQ(mkdir(to.c_str(), 0755), 0);
    std::vector<std::string> names = seg_files(from);
    names.push_back("delivered");
    for (const std::string &n : names)
        if (file_size(from + "/" + n) > 0)
            write_bytes(to + "/" + n, read_bytes(from + "/" + n));
}

TEST(Spool, CheckpointWhileRunning)
{
    // The checkpoint is rewritten from lr_cp_spool_delivered (at most every 100 ms), so that a
    // crash (here: a copy of the files of the open spool) replays from about there, and a
    // checkpoint in the middle of a segment skips the records before it.
    TempDir t;
    Opts o(t.path);
    Spool sp(o.o);
    sp.append_gen(10, 100);
    EXPECT_EQ(read_all(sp.s).size(), 10u);
    usleep(120000);
    for (uint64_t s = 1; s <= 4; s++)
        lr_cp_spool_delivered(sp.s, s); // the first one writes the checkpoint: 2
    std::vector<uint8_t> ck = read_bytes(wdir(o.keep) + "/delivered");
    ASSERT_EQ(ck.size(), 12u);
    uint64_t v;
    memcpy(&v, ck.data(), 8);
    EXPECT_EQ(v, 2u);
    usleep(120000);
    lr_cp_spool_delivered(sp.s, 5); // 100 ms later: 6
    ck = read_bytes(wdir(o.keep) + "/delivered");
    memcpy(&v, ck.data(), 8);
    EXPECT_EQ(v, 6u);
    uint32_t crc;
    memcpy(&crc, ck.data() + 8, 4);
    EXPECT_EQ(crc, lr_cp_crc32c(ck.data(), 8));
    ASSERT_EQ(lr_cp_spool_sync(sp.s), 0);
    EXPECT_EQ(lr_cp_spool_durable_seq(sp.s), 10u);

    ASSERT_EQ(mkdir((t.path + "/crash").c_str(), 0755), 0);
    copy_spool(wdir(o.keep), t.path + "/crash/w0");
    Opts oc(t.path + "/crash");
    Spool sc(oc.o);
    EXPECT_EQ(sc.rep.damaged, 0u);
    EXPECT_EQ(sc.rep.records, 10u);
    EXPECT_EQ(sc.rep.pending, 5u);
    EXPECT_EQ(sc.rep.first_pending, 6u);
    EXPECT_EQ(sc.rep.next_seq, 11u);
    EXPECT_EQ(lr_cp_spool_delivered_below(sc.s), 6u);
    std::vector<Got> got = read_all(sc.s);
    EXPECT_EQ(seqs(got), range(6, 10));
    for (const Got &g : got)
        EXPECT_TRUE(matches(g, 100));
}

TEST(Spool, RewindRereadsUndelivered)
{
    struct {
        const char *name;
        uint64_t segment_bytes;
        uint64_t n;
        std::vector<uint64_t> delivered;
        uint64_t below;
        std::vector<uint64_t> reread;
    } cases[] = {
        { "nothing delivered", 1 << 20, 6, {}, 1, range(1, 6) },
        { "holes", 1 << 20, 6, { 2, 4 }, 1, { 1, 3, 5, 6 } },
        { "prefix and holes", 1 << 20, 6, { 1, 2, 5 }, 3, { 3, 4, 6 } },
        { "all", 1 << 20, 6, range(1, 6), 7, {} },
        { "across segments", kSeg, 12, { 1, 2, 3, 4, 6, 10 }, 5, { 5, 7, 8, 9, 11, 12 } },
        { "segment boundary", kSeg, 12, range(1, 6), 7, range(7, 12) },
    };
    for (const auto &c : cases) {
        TempDir t;
        Opts o(t.path);
        o.o.segment_bytes = c.segment_bytes;
        Spool sp(o.o);
        sp.append_gen(c.n, kVal);
        EXPECT_EQ(read_all(sp.s).size(), c.n) << c.name;
        for (uint64_t s : c.delivered)
            lr_cp_spool_delivered(sp.s, s);
        EXPECT_EQ(lr_cp_spool_delivered_below(sp.s), c.below) << c.name;
        lr_cp_spool_rewind(sp.s);
        EXPECT_EQ(lr_cp_spool_in_flight(sp.s), 0u) << c.name;
        std::vector<Got> v = read_all(sp.s);
        EXPECT_EQ(seqs(v), c.reread) << c.name;
        for (const Got &g : v)
            EXPECT_TRUE(matches(g, kVal)) << c.name;
        EXPECT_EQ(lr_cp_spool_in_flight(sp.s), c.reread.size()) << c.name;
        // Rewinding again, half way through, still gives each undelivered record once.
        lr_cp_spool_rewind(sp.s);
        Got g;
        if (!c.reread.empty()) {
            ASSERT_EQ(read_one(sp.s, &g), 1) << c.name;
            lr_cp_spool_delivered(sp.s, g.seq);
        }
        lr_cp_spool_rewind(sp.s);
        std::vector<uint64_t> rest(c.reread.begin() + (c.reread.empty() ? 0 : 1), c.reread.end());
        EXPECT_EQ(seqs(read_all(sp.s)), rest) << c.name;
        for (uint64_t s : rest)
            lr_cp_spool_delivered(sp.s, s);
        EXPECT_EQ(lr_cp_spool_delivered_below(sp.s), c.n + 1) << c.name;
        EXPECT_EQ(lr_cp_spool_in_flight(sp.s), 0u) << c.name;
        // New records after the rewind come after the old ones.
        sp.append_gen(2, kVal);
        EXPECT_EQ(seqs(read_all(sp.s)), range(c.n + 1, c.n + 2)) << c.name;
    }
}

TEST(Spool, TornTailIsCut)
{
    // Five records, then the file is cut at `cut` bytes into record `rec` (0-based) and
    // `garbage` bytes are appended.
    struct {
        const char *name;
        size_t rec;
        size_t cut;
        size_t garbage;
        bool damaged;
    } cases[] = {
        { "inside a header", 3, 10, 0, true },    { "inside a payload", 3, 40, 0, true },
        { "header + garbage", 3, 10, 100, true }, { "payload + garbage", 3, 40, 7, true },
        { "boundary + garbage", 3, 0, 50, true }, { "boundary", 3, 0, 0, false },
        { "first record torn", 0, 20, 0, true },  { "last record torn", 4, 33, 0, true },
    };
    for (const auto &c : cases) {
        TempDir t;
        Opts o(t.path);
        std::string w = wdir(o.keep);
        std::string f = w + "/" + seg_name(1);
        std::vector<size_t> starts;
        {
            Spool sp(o.o);
            for (uint64_t s = 1; s <= 5; s++) {
                starts.push_back(lr_cp_spool_used_bytes(sp.s));
                sp.append({ gen(s, 50) });
            }
        }
        std::vector<uint8_t> b = read_bytes(f);
        ASSERT_EQ(b.size(), starts.back() + rec_bytes(gen(5, 50)));
        size_t at = starts[c.rec] + c.cut;
        b.resize(at);
        for (size_t i = 0; i < c.garbage; i++)
            b.push_back((uint8_t)(0xA5 ^ i));
        write_bytes(f, b);

        testing::internal::CaptureStderr();
        Spool sp(o.o);
        std::string err = testing::internal::GetCapturedStderr();
        size_t valid = starts[c.rec];
        EXPECT_EQ(sp.rep.damaged, c.damaged ? 1u : 0u) << c.name;
        EXPECT_EQ(sp.rep.cut_bytes, b.size() - valid) << c.name;
        EXPECT_EQ(sp.rep.records, c.rec) << c.name;
        EXPECT_EQ(sp.rep.next_seq, c.rec + 1) << c.name;
        if (c.damaged) {
            std::string off = "offset " + std::to_string(valid) + ":";
            EXPECT_NE(std::string(sp.rep.damage).find(off), std::string::npos)
                << c.name << ": " << sp.rep.damage;
            EXPECT_NE(std::string(sp.rep.damage).find(seg_name(1)), std::string::npos)
                << sp.rep.damage;
            EXPECT_NE(err.find("linerate: spool w0: "), std::string::npos) << err;
            EXPECT_NE(err.find("cut " + std::to_string(b.size() - valid) + " bytes at offset " +
                               std::to_string(valid)),
                      std::string::npos)
                << err;
        } else {
            EXPECT_STREQ(sp.rep.damage, "") << c.name;
            EXPECT_EQ(err, "") << c.name;
        }
        // With no record left the file was deleted; the new active segment has its name.
        EXPECT_EQ(file_size(f), c.rec > 0 ? valid : LR_SPOOL_SEG_HDR) << c.name;
        std::vector<Got> v = read_all(sp.s);
        EXPECT_EQ(seqs(v), range(1, c.rec)) << c.name;
        for (const Got &g : v)
            EXPECT_TRUE(matches(g, 50));
        EXPECT_EQ(sp.append({ gen(c.rec + 1, 50) }), c.rec + 1) << c.name;
        EXPECT_EQ(seqs(read_all(sp.s)), std::vector<uint64_t>{ c.rec + 1 }) << c.name;
    }
}

TEST(Spool, CorruptRecordKeepsWhatIsBefore)
{
    // Record 3 of 5 damaged in the middle of the only segment, or in the first of three
    // segments: the records before it stay, so do the later segments (their names say where they
    // start), and the reader steps over the hole.
    struct {
        const char *name;
        uint64_t segment_bytes;
        size_t n;
        size_t rec;      // 0-based record damaged
        size_t field;    // byte offset in it
        const char *why; // in the report
        std::vector<uint64_t> left;
    } cases[] = {
        { "payload", 1 << 20, 5, 2, 40, "CRC", { 1, 2 } },
        { "magic", 1 << 20, 5, 2, 0, "magic", { 1, 2 } },
        { "seq", 1 << 20, 5, 2, 16, "CRC", { 1, 2 } },
        { "first segment", kSeg, 9, 1, 100, "CRC", { 1, 4, 5, 6, 7, 8, 9 } },
        { "middle segment", kSeg, 9, 4, 33, "CRC", { 1, 2, 3, 4, 7, 8, 9 } },
    };
    for (const auto &c : cases) {
        TempDir t;
        Opts o(t.path);
        o.o.segment_bytes = c.segment_bytes;
        std::string w = wdir(o.keep);
        std::vector<uint64_t> starts; // offset of each record in its segment
        std::vector<std::string> file_of;
        {
            Spool sp(o.o);
            for (uint64_t s = 1; s <= c.n; s++) {
                sp.append({ gen(s, kVal) });
                std::vector<std::string> fs = seg_files(w);
                file_of.push_back(w + "/" + fs.back());
                starts.push_back(file_size(file_of.back()) - rec_bytes(gen(s, kVal)));
            }
        }
        std::vector<uint8_t> b = read_bytes(file_of[c.rec]);
        size_t size = b.size();
        b[starts[c.rec] + c.field] ^= 0x04;
        write_bytes(file_of[c.rec], b);

        testing::internal::CaptureStderr();
        Spool sp(o.o);
        std::string err = testing::internal::GetCapturedStderr();
        EXPECT_EQ(sp.rep.damaged, 1u) << c.name;
        EXPECT_EQ(sp.rep.cut_bytes, size - starts[c.rec]) << c.name;
        EXPECT_EQ(sp.rep.records, c.left.size()) << c.name;
        EXPECT_EQ(sp.rep.pending, c.left.size()) << c.name;
        std::string d = sp.rep.damage;
        EXPECT_NE(d.find("offset " + std::to_string(starts[c.rec])), std::string::npos)
            << c.name << ": " << d;
        EXPECT_NE(d.find(c.why), std::string::npos) << c.name << ": " << d;
        EXPECT_NE(err.find("cut "), std::string::npos) << err;
        std::vector<Got> v = read_all(sp.s);
        EXPECT_EQ(seqs(v), c.left) << c.name;
        for (const Got &g : v)
            lr_cp_spool_delivered(sp.s, g.seq);
        EXPECT_EQ(lr_cp_spool_delivered_below(sp.s), c.left.back() + 1) << c.name;
        EXPECT_EQ(lr_cp_spool_read_errors(sp.s), 0u) << c.name;
    }
}

TEST(Spool, OpenCleansUp)
{
    TempDir t;
    Opts o(t.path);
    std::string w = wdir(o.keep);
    {
        Spool sp(o.o); // creates w0
    }
    EXPECT_TRUE(seg_files(w).empty()) << "an empty active segment is removed at close";
    struct {
        const char *name;
        std::vector<uint8_t> bytes;
        bool damaged;
        uint64_t cut;
    } cases[] = {
        { "empty file", {}, false, 0 },
        { "header only", segment({}, 5), false, 0 },
        { "torn header", std::vector<uint8_t>(9, 0), true, 9 },
        { "another worker's", segment(three(), 5, 3), true, segment(three(), 5, 3).size() },
        { "name and first seq differ", segment(three(), 6), true,
          segment(three(), 6).size() - LR_SPOOL_SEG_HDR },
    };
    for (const auto &c : cases) {
        write_bytes(w + "/" + seg_name(5), c.bytes);
        write_bytes(w + "/notes.txt", { 'x' });
        testing::internal::CaptureStderr();
        Spool sp(o.o);
        testing::internal::GetCapturedStderr();
        EXPECT_EQ(sp.rep.damaged, c.damaged ? 1u : 0u) << c.name;
        EXPECT_EQ(sp.rep.cut_bytes, c.cut) << c.name;
        EXPECT_EQ(sp.rep.segments, 0u) << c.name;
        EXPECT_EQ(sp.rep.next_seq, 1u) << c.name;
        EXPECT_EQ(seg_files(w), std::vector<std::string>{ seg_name(1) }) << c.name;
        EXPECT_EQ(file_size(w + "/notes.txt"), 1u) << "not ours: left alone";
    }
}

TEST(Spool, ReadTimeDamageSkipsTheSegment)
{
    TempDir t;
    Opts o(t.path);
    o.o.segment_bytes = kSeg;
    std::string w = wdir(o.keep);
    Spool sp(o.o);
    sp.append_gen(9, kVal); // 1-3, 4-6, 7-9 (active)
    // Damage record 2 (in a closed segment) before the reader gets there.
    std::string f1 = w + "/" + seg_name(1);
    std::vector<uint8_t> b = read_bytes(f1);
    size_t r2 = LR_SPOOL_SEG_HDR + rec_bytes(gen(1, kVal));
    b[r2 + 100] ^= 1;
    int fd = ::open(f1.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, &b[r2 + 100], 1, (off_t)(r2 + 100)), 1);
    ::close(fd);

    testing::internal::CaptureStderr();
    std::vector<Got> v = read_all(sp.s);
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(seqs(v), (std::vector<uint64_t>{ 1, 4, 5, 6, 7, 8, 9 }));
    EXPECT_EQ(lr_cp_spool_read_errors(sp.s), 2u);
    EXPECT_NE(err.find("offset " + std::to_string(r2)), std::string::npos) << err;
    EXPECT_EQ(lr_cp_spool_in_flight(sp.s), 7u);
    lr_cp_spool_delivered(sp.s, 1);
    EXPECT_EQ(lr_cp_spool_delivered_below(sp.s), 4u) << "2 and 3 count as delivered";

    // Damage in the active segment: the reader asks the worker to roll and waits for it.
    sp.append_gen(2, 10); // 10, 11 in the active segment 7-11
    std::string f7 = w + "/" + seg_name(7);
    uint64_t r10 = file_size(f7) - 2 * rec_bytes(gen(10, 10));
    fd = ::open(f7.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    uint8_t junk = 0xEE;
    ASSERT_EQ(pwrite(fd, &junk, 1, (off_t)r10 + 1), 1); // record magic
    ::close(fd);
    testing::internal::CaptureStderr();
    Got g;
    EXPECT_EQ(read_one(sp.s, &g), 0);
    EXPECT_EQ(read_one(sp.s, &g), 0);
    err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("magic"), std::string::npos) << err;
    // The worker's timer rolls at once (an idle worker must not leave the reader waiting for an
    // append); a second tick has nothing to do.
    EXPECT_EQ(lr_cp_spool_tick(sp.s), 0);
    EXPECT_EQ(seg_files(w).back(), seg_name(12));
    size_t n_files = seg_files(w).size();
    EXPECT_EQ(lr_cp_spool_tick(sp.s), 0);
    EXPECT_EQ(seg_files(w).size(), n_files);
    EXPECT_EQ(read_one(sp.s, &g), 0);
    sp.append({ gen(12, 10) }); // into the new segment
    EXPECT_EQ(seg_files(w).back(), seg_name(12));
    v = read_all(sp.s);
    EXPECT_EQ(seqs(v), std::vector<uint64_t>{ 12 });
    EXPECT_EQ(lr_cp_spool_read_errors(sp.s), 4u);
    for (uint64_t s = 4; s <= 9; s++)
        lr_cp_spool_delivered(sp.s, s);
    lr_cp_spool_delivered(sp.s, 12);
    EXPECT_EQ(lr_cp_spool_delivered_below(sp.s), 13u);
    EXPECT_EQ(seg_files(w), std::vector<std::string>{ seg_name(12) });
}

TEST(Spool, FullHysteresis)
{
    TempDir t;
    Opts o(t.path);
    o.o.segment_bytes = kSeg;
    uint64_t seg = LR_SPOOL_SEG_HDR + 3 * rec_bytes(gen(1, kVal)); // a full segment
    o.o.high_bytes = 4 * seg;
    o.o.low_bytes = 2 * seg;
    Spool sp(o.o);
    EXPECT_FALSE(lr_cp_spool_full(sp.s));
    sp.append_gen(11, kVal); // 3 full segments + 2 records
    EXPECT_LT(lr_cp_spool_used_bytes(sp.s), o.o.high_bytes);
    EXPECT_FALSE(lr_cp_spool_full(sp.s));
    sp.append_gen(1, kVal); // exactly 4 full segments
    EXPECT_EQ(lr_cp_spool_used_bytes(sp.s), o.o.high_bytes);
    EXPECT_TRUE(lr_cp_spool_full(sp.s));
    sp.append_gen(1, kVal); // 13: rolls
    EXPECT_TRUE(lr_cp_spool_full(sp.s));
    read_all(sp.s);
    for (uint64_t s = 1; s <= 3; s++) // one segment goes: between low and high
        lr_cp_spool_delivered(sp.s, s);
    EXPECT_LT(lr_cp_spool_used_bytes(sp.s), o.o.high_bytes);
    EXPECT_GT(lr_cp_spool_used_bytes(sp.s), o.o.low_bytes);
    EXPECT_TRUE(lr_cp_spool_full(sp.s)) << "still full until at or below low_bytes";
    for (uint64_t s = 4; s <= 6; s++)
        lr_cp_spool_delivered(sp.s, s);
    EXPECT_GT(lr_cp_spool_used_bytes(sp.s), o.o.low_bytes);
    EXPECT_TRUE(lr_cp_spool_full(sp.s));
    for (uint64_t s = 7; s <= 9; s++)
        lr_cp_spool_delivered(sp.s, s);
    EXPECT_LE(lr_cp_spool_used_bytes(sp.s), o.o.low_bytes);
    EXPECT_FALSE(lr_cp_spool_full(sp.s));
    sp.append_gen(3, kVal);
    EXPECT_GT(lr_cp_spool_used_bytes(sp.s), o.o.low_bytes);
    EXPECT_LT(lr_cp_spool_used_bytes(sp.s), o.o.high_bytes);
    EXPECT_FALSE(lr_cp_spool_full(sp.s)) << "not full again until high_bytes";
}

TEST(Spool, AppendEnospc)
{
    TempDir t;
    std::string mnt = t.path + "/mnt";
    ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
    if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=64k") < 0) {
        if (errno == EPERM)
            GTEST_SKIP() << "cannot mount a tmpfs here (EPERM)";
        FAIL() << "mount: " << strerror(errno);
    }
    struct Unmount {
        std::string p;
        ~Unmount() { umount2(p.c_str(), MNT_DETACH); }
    } unmount{ mnt };
    std::vector<uint8_t> filler(16384, 0x55);
    write_bytes(mnt + "/filler", filler);

    Opts o(mnt);
    std::string f = wdir(mnt) + "/" + seg_name(1);
    size_t rb = rec_bytes(gen(1, 3000));
    uint64_t ok = 0;
    {
        Spool sp(o.o);
        ASSERT_NE(sp.s, nullptr);
        int rc = 0;
        for (int i = 0; i < 100; i++) {
            // Two records per append: a failure must keep neither.
            std::vector<Rec> v = { gen(ok + 1, 3000), gen(ok + 2, 3000) };
            std::vector<lr_cp_spool_rec> rv = { view(v[0]), view(v[1]) };
            uint64_t last = 0;
            rc = lr_cp_spool_append(sp.s, rv.data(), 2, &last);
            if (rc < 0)
                break;
            ok = last;
        }
        ASSERT_EQ(rc, -ENOSPC);
        ASSERT_GT(ok, 0u);
        EXPECT_EQ(lr_cp_spool_written_seq(sp.s), ok);
        EXPECT_EQ(file_size(f), LR_SPOOL_SEG_HDR + ok * rb) << "the partial write was cut";
        EXPECT_EQ(lr_cp_spool_used_bytes(sp.s), LR_SPOOL_SEG_HDR + ok * rb);
        EXPECT_EQ(seqs(read_all(sp.s)), range(1, ok));
        // The same request fails again while full (nothing changed), and works once there is
        // room, with the seqs it would have had.
        std::vector<Rec> v = { gen(ok + 1, 3000), gen(ok + 2, 3000) };
        std::vector<lr_cp_spool_rec> rv = { view(v[0]), view(v[1]) };
        uint64_t last = 0;
        EXPECT_EQ(lr_cp_spool_append(sp.s, rv.data(), 2, &last), -ENOSPC);
        EXPECT_EQ(file_size(f), LR_SPOOL_SEG_HDR + ok * rb);
        ASSERT_EQ(unlink((mnt + "/filler").c_str()), 0);
        EXPECT_EQ(lr_cp_spool_append(sp.s, rv.data(), 2, &last), 0);
        EXPECT_EQ(last, ok + 2);
        EXPECT_EQ(lr_cp_spool_sync(sp.s), 0);
        EXPECT_EQ(seqs(read_all(sp.s)), range(ok + 1, ok + 2));
    }
    Spool sp(o.o);
    EXPECT_EQ(sp.rep.damaged, 0u) << sp.rep.damage;
    EXPECT_EQ(sp.rep.records, ok + 2);
    EXPECT_EQ(sp.rep.next_seq, ok + 3);
    std::vector<Got> v = read_all(sp.s);
    EXPECT_EQ(seqs(v), range(1, ok + 2));
    for (const Got &g : v)
        EXPECT_TRUE(matches(g, 3000));
}

TEST(Spool, SyncerMakesDurableAndNotifies)
{
    for (uint32_t interval_us : { 0u, 1000u, 50000u }) {
        TempDir t;
        Opts o(t.path);
        int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        ASSERT_GE(efd, 0);
        o.o.notify_fd = efd;
        o.o.commit_interval_us = interval_us;
        Spool sp(o.o);
        EXPECT_EQ(lr_cp_spool_durable_seq(sp.s), 0u);
        uint64_t last = sp.append({ gen(1, 100), gen(2, 100) });
        struct pollfd p = { efd, POLLIN, 0 };
        ASSERT_EQ(poll(&p, 1, 5000), 1) << "interval " << interval_us;
        uint64_t v = 0;
        ASSERT_EQ(read(efd, &v, sizeof(v)), (ssize_t)sizeof(v));
        EXPECT_GE(v, 1u);
        EXPECT_GE(lr_cp_spool_durable_seq(sp.s), last) << "interval " << interval_us;
        EXPECT_GE(lr_cp_spool_fsyncs(sp.s), 1u);
        // Nothing new: the syncer stays idle.
        uint64_t n = lr_cp_spool_fsyncs(sp.s);
        usleep(3 * interval_us + 2000);
        EXPECT_EQ(lr_cp_spool_fsyncs(sp.s), n) << "interval " << interval_us;
        // lr_cp_spool_sync: durable on return.
        last = sp.append({ gen(3, 100) });
        EXPECT_EQ(lr_cp_spool_sync(sp.s), 0);
        EXPECT_EQ(lr_cp_spool_durable_seq(sp.s), last);
        sp.close();
        close(efd);
    }
}

} // namespace
