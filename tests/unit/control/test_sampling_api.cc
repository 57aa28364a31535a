// Unit tests for control/sampling_api.c: GET/PUT /sampling (token, validation, atomic publication
// of a new generation, reclamation once every worker moved on).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

extern "C" {
#include "linerate/config.h"
}
#include "unit/control/sampling_api_harness.h"

extern "C" {
#include "../../../dataplane/tail_policy.h"
// control/sampling_api.h itself includes C11 atomics: its two calls are declared here.
void lr_cp_sampling_get(struct lr_cp_sampling *s, FILE *f);
int lr_cp_sampling_put(struct lr_cp_sampling *s, const char *auth, size_t auth_len,
                       const uint8_t *body, size_t len, FILE *f);
void lr_cp_sampling_reclaim(struct lr_cp_sampling *s);
}

namespace
{

struct Api : ::testing::Test {
    lr_config cfg;
    lr_t_rt *h = nullptr;
    lr_cp_sampling *s = nullptr;

    void SetUp() override
    {
        lr_cp_config_defaults(&cfg);
        std::snprintf(cfg.admin.token, sizeof(cfg.admin.token), "s3cret");
        cfg.tail.enabled = true;
        h = lr_t_rt_new(&cfg, 2, 30);
        ASSERT_NE(h, nullptr);
        s = lr_t_rt_api(h);
    }
    void TearDown() override
    {
        lr_t_rt_free(h);
        lr_cp_config_free(&cfg);
    }
    // PUT; returns the status, the answer in *out.
    int put(const std::string &body, const char *auth, std::string *out = nullptr)
    {
        char *buf = nullptr;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        int st = lr_cp_sampling_put(s, auth, auth ? std::strlen(auth) : 0,
                                    reinterpret_cast<const uint8_t *>(body.data()), body.size(), f);
        std::fclose(f);
        if (out)
            *out = std::string(buf, len);
        std::free(buf);
        return st;
    }
    std::string get()
    {
        char *buf = nullptr;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        lr_cp_sampling_get(s, f);
        std::fclose(f);
        std::string r(buf, len);
        std::free(buf);
        return r;
    }
    lr_t_set cur() { return lr_t_rt_cur(h); }
};

TEST_F(Api, GetShowsTheSettingsInForce)
{
    std::string g = get();
    EXPECT_NE(g.find("\"generation\":1"), std::string::npos) << g;
    EXPECT_NE(g.find("\"sampling_percentage\":30"), std::string::npos) << g;
    EXPECT_NE(g.find("\"policies\":[]"), std::string::npos) << g;
}

TEST_F(Api, WritesNeedTheBearerToken)
{
    EXPECT_EQ(put("{\"head\":{\"sampling_percentage\":5}}", nullptr), 401);
    EXPECT_EQ(put("{\"head\":{\"sampling_percentage\":5}}", "Bearer wrong!"), 401);
    EXPECT_EQ(put("{\"head\":{\"sampling_percentage\":5}}", "Bearer s3cre"), 401);
    EXPECT_EQ(put("{\"head\":{\"sampling_percentage\":5}}", "Basic s3cret"), 401);
    EXPECT_TRUE(cur().is_first);
    cfg.admin.token[0] = '\0';
    EXPECT_EQ(put("{\"head\":{\"sampling_percentage\":5}}", "Bearer "), 403);
    EXPECT_TRUE(cur().is_first);
}

TEST_F(Api, APutPublishesANewGenerationAndKeepsWhatItLeavesOut)
{
    std::string out;
    ASSERT_EQ(put("{\"head\":{\"sampling_percentage\":12.5,\"logs\":{\"enabled\":true}}}",
                  "Bearer s3cret", &out),
              200)
        << out;
    lr_t_set n = cur();
    ASSERT_FALSE(n.is_first);
    EXPECT_EQ(n.generation, 2u);
    EXPECT_DOUBLE_EQ(n.traces_percentage, 12.5);
    EXPECT_TRUE(n.logs);
    EXPECT_DOUBLE_EQ(n.logs_percentage, 100);
    EXPECT_TRUE(n.head);
    EXPECT_NE(out.find("\"generation\":2"), std::string::npos) << out;
    // The YAML form works too, and a GET body can be PUT back unchanged.
    ASSERT_EQ(put("head:\n  enabled: false\n", "bearer s3cret", &out), 200) << out;
    EXPECT_FALSE(cur().head);
    EXPECT_DOUBLE_EQ(cur().traces_percentage, 12.5);
    std::string g = get();
    ASSERT_EQ(put(g, "Bearer s3cret", &out), 200) << out << "\n" << g;
    EXPECT_EQ(cur().generation, 4u);
}

TEST_F(Api, BadBodiesAreRefusedWithTheReasonAndChangeNothing)
{
    struct {
        const char *body, *why;
    } bad[] = {
        { "{", "not JSON or YAML" },
        { "[1,2]", "expected a mapping" },
        { "{\"heads\":{}}", "heads: unknown key" },
        { "{\"head\":{\"sampling_percentage\":101}}", "percentage" },
        { "{\"head\":{\"sampling_percentage\":\"x\"}}", "percentage" },
        { "{\"head\":{\"enabled\":\"maybe\"}}", "true or false" },
        { "{\"head\":{\"logs\":{\"rate\":1}}}", "head.logs.rate: unknown key" },
        { "{\"tail\":{\"policies\":{}}}", "expected a sequence" },
        { "{\"tail\":{\"policies\":[{\"name\":\"x\",\"type\":\"nope\"}]}}", "tail.policies" },
        { "", "empty body" },
    };
    for (const auto &b : bad) {
        std::string out;
        EXPECT_EQ(put(b.body, "Bearer s3cret", &out), 400) << b.body;
        EXPECT_NE(out.find(b.why), std::string::npos) << b.body << " -> " << out;
        EXPECT_TRUE(cur().is_first);
    }
}

TEST_F(Api, TailPoliciesNeedTailSamplingInTheConfiguration)
{
    const char body[] = "{\"tail\":{\"policies\":[{\"name\":\"all\",\"type\":\"always_sample\"}]}}";
    cfg.tail.enabled = false;
    EXPECT_EQ(put(body, "Bearer s3cret"), 409);
    cfg.tail.enabled = true;
    std::string out;
    ASSERT_EQ(put(body, "Bearer s3cret", &out), 200) << out;
    ASSERT_NE(cur().tail, nullptr);
    EXPECT_EQ(lr_dp_tail_policies_count(cur().tail), 1u);
    EXPECT_STREQ(lr_dp_tail_policy_name(cur().tail, 0), "all");
    // A later PUT that leaves the tail out keeps the same policies.
    const lr_tail_policies *pol = cur().tail;
    ASSERT_EQ(put("{\"head\":{\"sampling_percentage\":1}}", "Bearer s3cret"), 200);
    EXPECT_EQ(cur().tail, pol);
}

TEST_F(Api, ReplacedSetsAreFreedOnlyOnceEveryWorkerMovedOn)
{
    // Runs under ASan in make test: a set freed while a worker could read it would show there.
    const char body[] = "{\"tail\":{\"policies\":[{\"name\":\"all\",\"type\":\"always_sample\"}]}}";
    ASSERT_EQ(put(body, "Bearer s3cret"), 200); // generation 2 (owns policies)
    const lr_tail_policies *pol = cur().tail;
    ASSERT_EQ(put("{\"head\":{\"sampling_percentage\":2}}", "Bearer s3cret"),
              200); // 3, same policies
    lr_t_rt_seen(h, 0, 2);
    lr_t_rt_seen(h, 1, 0); // worker 1 has loaded nothing yet: keep everything
    lr_cp_sampling_reclaim(s);
    EXPECT_STREQ(lr_dp_tail_policy_name(pol, 0), "all"); // still readable
    lr_t_rt_seen(h, 1, 3);
    lr_cp_sampling_reclaim(s);
    EXPECT_STREQ(lr_dp_tail_policy_name(pol, 0), "all"); // worker 0 may hold generation 2
    lr_t_rt_seen(h, 0, 3);
    lr_cp_sampling_reclaim(s);
    // Generation 3 still reads the policies generation 2 brought.
    ASSERT_NE(cur().tail, nullptr);
    EXPECT_STREQ(lr_dp_tail_policy_name(cur().tail, 0), "all");
}

} // namespace
