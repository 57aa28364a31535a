/* A harness around the run-time sampling block for the C++ tests of control/sampling_api.c:
 * linerate/sampling.h holds C11 atomics, which C++ cannot include, so the tests reach it through
 * these plain C functions (tests/unit/control/sampling_api_harness.c). */
#ifndef LINERATE_TEST_SAMPLING_API_HARNESS_H
#define LINERATE_TEST_SAMPLING_API_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linerate/config.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lr_cp_sampling;
struct lr_tail_policies;
struct lr_t_rt; /* opaque: a run-time block with generation 1 published, and its API handle */

/* Generation 1: head sampling on at `traces_pct`, logs off at 100 %, no tail policies. */
struct lr_t_rt *lr_t_rt_new(const struct lr_config *cfg, uint32_t n_workers, double traces_pct);
void lr_t_rt_free(struct lr_t_rt *h);
struct lr_cp_sampling *lr_t_rt_api(struct lr_t_rt *h);

/* The set in force now. */
struct lr_t_set {
    uint64_t generation;
    bool head, logs;
    double traces_percentage, logs_percentage;
    const struct lr_tail_policies *tail;
    bool is_first; /* it is generation 1, the one the harness made */
};
struct lr_t_set lr_t_rt_cur(struct lr_t_rt *h);

/* A worker stores the generation it loaded. */
void lr_t_rt_seen(struct lr_t_rt *h, uint32_t worker, uint64_t generation);

#ifdef __cplusplus
}
#endif

#endif
