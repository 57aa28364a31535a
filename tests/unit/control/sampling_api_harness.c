/* See sampling_api_harness.h. */
#include "sampling_api_harness.h"

#include <stdlib.h>

#include "../../../control/sampling_api.h"
#include "linerate/sampling.h"

struct lr_t_rt {
    struct lr_sampling_rt rt;
    struct lr_sampling_set set0;
    struct lr_cp_sampling *api;
};

struct lr_t_rt *lr_t_rt_new(const struct lr_config *cfg, uint32_t n_workers, double traces_pct)
{
    struct lr_t_rt *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->set0 = (struct lr_sampling_set){
        .generation = 1, .head = true, .traces_percentage = traces_pct, .logs_percentage = 100
    };
    lr_sampling_scale_set(&h->rt, 1.0);
    atomic_store(&h->rt.cur, &h->set0);
    h->api = lr_cp_sampling_new(&h->rt, cfg, n_workers);
    if (!h->api) {
        free(h);
        return NULL;
    }
    return h;
}

void lr_t_rt_free(struct lr_t_rt *h)
{
    if (!h)
        return;
    lr_cp_sampling_free(h->api);
    free(h);
}

struct lr_cp_sampling *lr_t_rt_api(struct lr_t_rt *h)
{
    return h->api;
}

struct lr_t_set lr_t_rt_cur(struct lr_t_rt *h)
{
    const struct lr_sampling_set *s = atomic_load(&h->rt.cur);
    return (struct lr_t_set){ .generation = s->generation,
                              .head = s->head,
                              .logs = s->logs,
                              .traces_percentage = s->traces_percentage,
                              .logs_percentage = s->logs_percentage,
                              .tail = s->tail,
                              .is_first = s == &h->set0 };
}

void lr_t_rt_seen(struct lr_t_rt *h, uint32_t worker, uint64_t generation)
{
    atomic_store(&h->rt.seen[worker], generation);
}
