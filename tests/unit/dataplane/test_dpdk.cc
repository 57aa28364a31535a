// Smoke tests for dataplane/dpdk.c over DPDK's software ports: no NIC, no hugepages
// (--no-huge --no-pci -m 256 --no-shconf). The EAL can be initialised once per process, so every
// case runs in a forked child and reports through its exit status; the parent never starts DPDK.
//
// net_ring0 loops what is sent on a queue back to the same queue's receive side, so a frame
// sent with lr_dp_dpdk_tx comes back through lr_dp_dpdk_rx byte for byte.
#include <gtest/gtest.h>

#include <pthread.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

extern "C" {
#include "../../../dataplane/dpdk.h"
#include "linerate/config.h"
}

namespace
{

// The first cpu this process may run on: the EAL's only lcore.
int first_cpu()
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 0;
    for (int i = 0; i < CPU_SETSIZE; i++)
        if (CPU_ISSET(i, &set))
            return i;
    return 0;
}

std::string eal_args(const std::string &vdev)
{
    return "-l " + std::to_string(first_cpu()) +
           " --no-huge --no-pci -m 256 --no-shconf --no-telemetry --log-level=lib.eal:error " +
           vdev;
}

struct Cfg {
    lr_config c{};
    explicit Cfg(const std::string &args, uint32_t port = 0)
    {
        lr_cp_config_defaults(&c);
        c.dp.mode = LR_DP_MODE_DPDK;
        snprintf(c.dp.eal_args, sizeof(c.dp.eal_args), "%s", args.c_str());
        c.dp.port_id = port;
    }
    ~Cfg() { lr_cp_config_free(&c); }
};

// Runs `fn` in a child; its return value is the exit status. Reports what the child wrote on
// stderr when it fails, and a crash or an exit from inside DPDK as such.
void in_child(const char *what, const std::function<int()> &fn)
{
    fflush(nullptr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int rc = fn();
        fflush(nullptr);
        _exit(rc);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status))
        << what << ": killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    EXPECT_EQ(WEXITSTATUS(status), 0) << what << " (see the child's messages above)";
}

#define CHILD_CHECK(cond)                                                            \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            return 1;                                                                \
        }                                                                            \
    } while (0)

TEST(Dpdk, BadEalArgumentIsACleanError)
{
    in_child("bad EAL argument", [] {
        Cfg c("--no-huge --no-shconf --definitely-not-an-eal-option");
        char err[512] = "";
        lr_dp_dpdk *d = lr_dp_dpdk_start(&c.c, 1, nullptr, err, sizeof(err));
        fprintf(stderr, "error: %s\n", err);
        CHILD_CHECK(d == nullptr);
        CHILD_CHECK(strstr(err, "dataplane.dpdk.eal_args: EAL initialisation failed") != nullptr);
        return 0;
    });
}

TEST(Dpdk, HelpIsRefusedBeforeTheEalCanExit)
{
    in_child("--help", [] {
        Cfg c("--no-huge --help");
        char err[512] = "";
        CHILD_CHECK(lr_dp_dpdk_start(&c.c, 1, nullptr, err, sizeof(err)) == nullptr);
        CHILD_CHECK(strstr(err, "--help would make the EAL exit") != nullptr);
        return 0;
    });
}

TEST(Dpdk, NoSuchPortIsACleanError)
{
    in_child("no such port", [] {
        Cfg c(eal_args("--vdev=net_ring0"), 3);
        char err[512] = "";
        lr_dp_dpdk *d = lr_dp_dpdk_start(&c.c, 1, nullptr, err, sizeof(err));
        fprintf(stderr, "error: %s\n", err);
        CHILD_CHECK(d == nullptr);
        CHILD_CHECK(strstr(err, "dataplane.dpdk.port_id: no port 3 (the EAL found 1 port;") !=
                    nullptr);
        return 0;
    });
}

TEST(Dpdk, SeveralQueuesWithoutRssIsACleanError)
{
    in_child("no RSS", [] {
        Cfg c(eal_args("--vdev=net_ring0"));
        char err[512] = "";
        lr_dp_dpdk *d = lr_dp_dpdk_start(&c.c, 2, nullptr, err, sizeof(err));
        fprintf(stderr, "error: %s\n", err);
        CHILD_CHECK(d == nullptr);
        CHILD_CHECK(strstr(err, "cannot spread TCP flows over queues") != nullptr);
        return 0;
    });
}

struct Rx {
    std::vector<std::vector<uint8_t>> frames;
    unsigned csum_ok = 0;
    static void fn(void *ctx, const uint8_t *f, size_t len, unsigned flags)
    {
        auto *rx = static_cast<Rx *>(ctx);
        rx->frames.emplace_back(f, f + len);
        rx->csum_ok += (flags & LR_DP_RX_CSUM_OK) != 0;
    }
};

// Sends `n` frames on q and reads them back; returns 0 when all came back intact.
int loop(lr_dp_dpdk_q *q, int n, uint8_t tag)
{
    std::vector<std::vector<uint8_t>> sent;
    for (int i = 0; i < n; i++) {
        std::vector<uint8_t> f(60 + i, uint8_t(i));
        f[0] = tag;
        CHILD_CHECK(lr_dp_dpdk_tx(q, f.data(), f.size()) == 0);
        sent.push_back(f);
    }
    lr_dp_dpdk_flush(q);
    Rx rx;
    for (int tries = 0; tries < 100 && rx.frames.size() < sent.size(); tries++)
        lr_dp_dpdk_rx(q, Rx::fn, &rx);
    CHILD_CHECK(rx.frames == sent);
    return 0;
}

void *worker(void *arg)
{
    auto *q = static_cast<lr_dp_dpdk_q *>(arg);
    char err[512] = "";
    if (lr_dp_dpdk_thread_register(err, sizeof(err)) != 0) {
        fprintf(stderr, "register: %s\n", err);
        return (void *)1;
    }
    int rc = loop(q, 40, 0xee); // more than a burst: tx flushes by itself once
    lr_dp_dpdk_thread_unregister();
    return (void *)(intptr_t)rc;
}

TEST(Dpdk, RingPortLoopsFramesBackAndCounts)
{
    in_child("net_ring loopback", [] {
        Cfg c(eal_args("--vdev=net_ring0"));
        char err[512] = "";
        lr_dp_dpdk *d = lr_dp_dpdk_start(&c.c, 1, nullptr, err, sizeof(err));
        if (!d)
            fprintf(stderr, "start: %s\n", err);
        CHILD_CHECK(d != nullptr);
        CHILD_CHECK(lr_dp_dpdk_thread_register(err, sizeof(err)) == 0); // the EAL's own thread
        uint8_t mac[6];
        lr_dp_dpdk_mac(d, mac);
        CHILD_CHECK(!(mac[0] & 1));
        CHILD_CHECK(lr_dp_dpdk_queue(d, 1) == nullptr);
        lr_dp_dpdk_q *q = lr_dp_dpdk_queue(d, 0);
        CHILD_CHECK(q != nullptr);
        CHILD_CHECK(loop(q, 3, 0xaa) == 0);
        const struct lr_dp_dpdk_q_stats *s = lr_dp_dpdk_q_stats(q);
        CHILD_CHECK(s->tx_pkts == 3 && s->tx_bytes == 60 + 61 + 62);
        CHILD_CHECK(s->rx_pkts == 3 && s->rx_bytes == 60 + 61 + 62 && s->rx_bursts >= 1);
        CHILD_CHECK(s->tx_dropped == 0);
        // A frame longer than an mbuf holds is refused, counted.
        std::vector<uint8_t> big(70000, 0);
        CHILD_CHECK(lr_dp_dpdk_tx(q, big.data(), big.size()) == -EMSGSIZE);
        CHILD_CHECK(s->tx_dropped == 1);
        // A plain pthread (as dataplane/sock.c's workers) registers and uses the queue.
        pthread_t t;
        void *ret = nullptr;
        CHILD_CHECK(pthread_create(&t, nullptr, worker, q) == 0);
        CHILD_CHECK(pthread_join(t, &ret) == 0);
        CHILD_CHECK(ret == nullptr);
        CHILD_CHECK(s->tx_pkts == 43 && s->rx_pkts == 43);
        lr_dp_dpdk_stop(d);
        return 0;
    });
}

TEST(Dpdk, NullPortStartsWithMtuAndStops)
{
    in_child("net_null", [] {
        Cfg c(eal_args("--vdev=net_null0"));
        c.c.dp.mtu = 9000;
        char err[512] = "";
        lr_dp_dpdk *d = lr_dp_dpdk_start(&c.c, 1, nullptr, err, sizeof(err));
        if (!d)
            fprintf(stderr, "start: %s\n", err);
        CHILD_CHECK(d != nullptr);
        lr_dp_dpdk_q *q = lr_dp_dpdk_queue(d, 0);
        std::vector<uint8_t> f(9018, 1);
        CHILD_CHECK(lr_dp_dpdk_tx(q, f.data(), f.size()) == 0);
        lr_dp_dpdk_flush(q);
        CHILD_CHECK(lr_dp_dpdk_q_stats(q)->tx_pkts == 1);
        Rx rx;
        lr_dp_dpdk_rx(q, Rx::fn, &rx); // net_null makes up frames
        CHILD_CHECK(!rx.frames.empty());
        lr_dp_dpdk_stop(d);
        lr_dp_dpdk_stop(nullptr);
        return 0;
    });
}

} // namespace
