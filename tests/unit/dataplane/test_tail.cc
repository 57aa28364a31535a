// Unit tests for dataplane/tail.c: one worker's tail-sampling table (hold until decision_wait,
// bounded capacity with early decisions, decision caches for late spans, owner routing).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "../../../dataplane/tail.h"
}

namespace
{

struct Emitted {
    std::string id;
    std::string body;
    uint32_t n_spans;
};

void collect(void *ctx, const uint8_t id[16], const uint8_t *body, size_t len, uint32_t n)
{
    auto *v = static_cast<std::vector<Emitted> *>(ctx);
    v->push_back({ std::string(reinterpret_cast<const char *>(id), 16),
                   std::string(reinterpret_cast<const char *>(body), len), n });
}

std::string tid(int i)
{
    std::string s(16, '\0');
    s[0] = 1;
    std::memcpy(&s[4], &i, sizeof(i));
    s[15] = (char)(i * 7 + 3);
    return s;
}

const uint8_t *u8(const std::string &s)
{
    return reinterpret_cast<const uint8_t *>(s.data());
}

// A trace piece: the pieces of one trace are concatenated in arrival order.
std::string piece(int trace, int k)
{
    return "piece-" + std::to_string(trace) + "-" + std::to_string(k) + ";";
}

constexpr uint64_t MS = 1000000ull;

struct TailTest : ::testing::Test {
    lr_dp_tail *t = nullptr;
    std::vector<Emitted> out;
    void make(uint32_t cap, uint64_t wait_ms, uint32_t keep_cache = 64, uint32_t drop_cache = 64)
    {
        lr_dp_tail_cfg c = { cap, wait_ms * MS, keep_cache, drop_cache };
        t = lr_dp_tail_new(&c);
        ASSERT_NE(t, nullptr);
    }
    int add(int trace, int k, uint64_t now_ms, lr_tail_policies *pol = nullptr)
    {
        std::string id = tid(trace), p = piece(trace, k);
        return lr_dp_tail_add(t, u8(id), u8(p), p.size(), 1, now_ms * MS, pol, collect, &out);
    }
    void TearDown() override { lr_dp_tail_free(t); }
};

TEST_F(TailTest, HoldsUntilTheDecisionWaitThenEmitsTheWholeTrace)
{
    make(16, 100);
    EXPECT_EQ(add(1, 0, 0), LR_DP_TAIL_HELD);
    EXPECT_EQ(add(2, 0, 10), LR_DP_TAIL_HELD);
    EXPECT_EQ(add(1, 1, 50), LR_DP_TAIL_HELD);
    EXPECT_EQ(lr_dp_tail_held(t), 2u);
    EXPECT_EQ(lr_dp_tail_held_bytes(t), piece(1, 0).size() * 2 + piece(2, 0).size());
    EXPECT_EQ(lr_dp_tail_expire(t, 99 * MS, false, nullptr, collect, &out), 0u);
    EXPECT_EQ(lr_dp_tail_expire(t, 100 * MS, false, nullptr, collect, &out), 1u);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].id, tid(1));
    EXPECT_EQ(out[0].body, piece(1, 0) + piece(1, 1));
    EXPECT_EQ(out[0].n_spans, 2u);
    EXPECT_EQ(lr_dp_tail_expire(t, 110 * MS, false, nullptr, collect, &out), 1u);
    EXPECT_EQ(lr_dp_tail_held(t), 0u);
    EXPECT_EQ(lr_dp_tail_held_bytes(t), 0u);
    const struct lr_dp_tail_counts *c = lr_dp_tail_counts(t);
    EXPECT_EQ(c->new_traces, 2u);
    EXPECT_EQ(c->sampled, 2u);
    EXPECT_EQ(c->spans_kept, 3u);
}

TEST_F(TailTest, LateSpansFollowTheDecisionAlreadyTaken)
{
    make(16, 100);
    // Traces whose bytes hold no ERROR span are not sampled by this policy.
    const char yaml[] =
        "- name: errors\n  type: status_code\n  status_code: {status_codes: [ERROR]}\n";
    char err[256];
    lr_tail_policies *errors =
        lr_dp_tail_policies_parse_text(yaml, sizeof(yaml) - 1, err, sizeof(err));
    ASSERT_NE(errors, nullptr) << err;
    add(1, 0, 0);
    lr_dp_tail_expire(t, 200 * MS, false, nullptr, collect, &out); // kept (no policies)
    add(2, 0, 200);
    lr_dp_tail_expire(t, 400 * MS, false, errors, collect, &out); // dropped
    EXPECT_EQ(out.size(), 1u);
    EXPECT_EQ(add(1, 1, 500), LR_DP_TAIL_KEEP);
    EXPECT_EQ(add(2, 1, 500), LR_DP_TAIL_DROP);
    EXPECT_EQ(add(2, 2, 500), LR_DP_TAIL_DROP);
    const struct lr_dp_tail_counts *c = lr_dp_tail_counts(t);
    EXPECT_EQ(c->late_kept, 1u);
    EXPECT_EQ(c->late_dropped, 2u);
    EXPECT_EQ(c->sampled, 1u);
    EXPECT_EQ(c->not_sampled, 1u);
    EXPECT_EQ(lr_dp_tail_held(t), 0u);
    lr_dp_tail_free(nullptr);
    lr_dp_tail_policies_free(errors);
}

TEST_F(TailTest, AFullTableDecidesItsOldestTraceEarly)
{
    make(3, 1000);
    for (int i = 0; i < 3; i++)
        EXPECT_EQ(add(i, 0, (uint64_t)i), LR_DP_TAIL_HELD);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(add(3, 0, 5), LR_DP_TAIL_HELD);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].id, tid(0));
    EXPECT_EQ(lr_dp_tail_counts(t)->early, 1u);
    EXPECT_EQ(lr_dp_tail_held(t), 3u);
    // The ring wraps: the remaining traces leave in arrival order.
    EXPECT_EQ(add(4, 0, 6), LR_DP_TAIL_HELD);
    EXPECT_EQ(lr_dp_tail_expire(t, 0, true, nullptr, collect, &out), 3u);
    ASSERT_EQ(out.size(), 5u);
    for (int i = 0; i < 5; i++)
        EXPECT_EQ(out[i].id, tid(i)) << i;
}

TEST_F(TailTest, PiecesOfAHeldTraceAppendWhereverItSitsInTheRing)
{
    make(4, 100);
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 4; i++)
            add(round * 4 + i, 0, (uint64_t)round * 1000 + i);
        for (int i = 3; i >= 0; i--)
            add(round * 4 + i, 1, (uint64_t)round * 1000 + 10);
        lr_dp_tail_expire(t, ((uint64_t)round * 1000 + 500) * MS, false, nullptr, collect, &out);
        EXPECT_EQ(lr_dp_tail_held(t), 0u);
    }
    ASSERT_EQ(out.size(), 20u);
    for (int i = 0; i < 20; i++) {
        EXPECT_EQ(out[i].id, tid(i));
        EXPECT_EQ(out[i].body, piece(i, 0) + piece(i, 1));
    }
}

TEST_F(TailTest, WithoutCachesALateSpanStartsANewTrace)
{
    make(8, 100, 0, 0);
    add(1, 0, 0);
    lr_dp_tail_expire(t, 200 * MS, false, nullptr, collect, &out);
    EXPECT_EQ(add(1, 1, 300), LR_DP_TAIL_HELD);
    EXPECT_EQ(lr_dp_tail_counts(t)->new_traces, 2u);
}

TEST(TailOwner, SpreadsTraceIdsOverTheWorkersAndIsStable)
{
    std::vector<int> n(4, 0);
    for (int i = 0; i < 40000; i++) {
        std::string id = tid(i);
        uint32_t w = lr_dp_tail_owner(u8(id), 4);
        ASSERT_LT(w, 4u);
        EXPECT_EQ(w, lr_dp_tail_owner(u8(id), 4));
        n[w]++;
    }
    for (int w = 0; w < 4; w++)
        EXPECT_NEAR(n[w], 10000, 600) << w;
    std::string id = tid(5);
    EXPECT_EQ(lr_dp_tail_owner(u8(id), 1), 0u);
}

TEST(TailNew, RefusesAZeroCapacity)
{
    lr_dp_tail_cfg c = { 0, MS, 0, 0 };
    EXPECT_EQ(lr_dp_tail_new(&c), nullptr);
    EXPECT_EQ(lr_dp_tail_new(nullptr), nullptr);
}

} // namespace
