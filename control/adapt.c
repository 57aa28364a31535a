/* The adaptive sampling controller (processors.adaptive_sampling): a multiplicative decrease
 * when Kafka or the spool falls behind, a slower multiplicative increase once both are well
 * below their thresholds, and a hold band in between so that the rate does not oscillate around
 * one threshold.
 *
 * "The Kafka queue" is lr_cp_kafka_queue_size (otelcol_exporter_queue_size): records in the
 * workers' rings, records librdkafka holds and Kafka has not acknowledged (rd_kafka_outq_len,
 * in flight included), and spool records not yet handed to librdkafka. Every one of them is a
 * record accepted and not yet in Kafka, whatever held it up: a slow broker shows up in
 * librdkafka's queue, a slow output thread in the rings, an outage in the spool backlog. The
 * spool input is its own: the bytes in the spools' segment files against spool.max_bytes (what
 * the receivers' high watermark refuses on), so the rate falls faster before the spool refuses
 * requests. */
#include <stdatomic.h>
#include <stdbool.h>

#include "adapt.h"
#include "admin.h"
#include "kafka.h"
#include "linerate/sampling.h"
#include "linerate/spool.h"

#define DOWN_QUEUE 0.9
#define DOWN_SPOOL 0.8
#define UP 1.1

double lr_cp_adapt_step(double rate_pct, double configured_pct, const struct lr_cp_adapt_in *in,
                        const struct lr_config *cfg)
{
    /* Compared as products, not quotients: the boundaries in the tests are exact. */
    double qt = (double)cfg->adaptive.kafka_queue_threshold, q = (double)in->queue_records;
    double used = (double)in->spool_bytes * 100.0;
    double limit = (double)in->spool_max_bytes * cfg->adaptive.spool_threshold_pct;
    bool spool_above = in->spool_max_bytes > 0 && used > limit;
    bool spool_low = in->spool_max_bytes == 0 || used * 2 < limit;
    double r = rate_pct;
    if (spool_above)
        r *= DOWN_SPOOL;
    else if (q > qt)
        r *= DOWN_QUEUE;
    else if (spool_low && q * 2 < qt)
        r *= UP;
    double floor_pct = cfg->adaptive.floor_percentage;
    if (r < floor_pct)
        r = floor_pct;
    if (r > configured_pct || configured_pct < floor_pct)
        r = configured_pct;
    return r;
}

double lr_cp_adapt_scale(double rate_pct, double configured_pct)
{
    if (!(configured_pct > 0))
        return 1.0;
    double s = rate_pct / configured_pct;
    return s > 1.0 ? 1.0 : s;
}

/* The configured traces percentage: the published set's (a PUT /sampling may change it). */
static double configured(struct lr_sampling_rt *rt, const struct lr_config *cfg)
{
    const struct lr_sampling_set *set = rt ? atomic_load(&rt->cur) : NULL;
    return set ? set->traces_percentage : cfg->sampler.percentage;
}

static void publish(struct lr_cp_adapt *a)
{
    if (!a->rt)
        return;
    lr_sampling_scale_set(a->rt, a->scale);
    atomic_store_explicit(&a->rt->lowered, a->lowered, memory_order_relaxed);
}

void lr_cp_adapt_init(struct lr_cp_adapt *a, const struct lr_config *cfg, struct lr_sampling_rt *rt)
{
    *a = (struct lr_cp_adapt){ .cfg = cfg, .rt = rt, .scale = 1.0 };
    a->configured_pct = configured(rt, cfg);
    a->rate_pct = a->configured_pct;
    publish(a);
}

bool lr_cp_adapt_update(struct lr_cp_adapt *a, double configured_pct,
                        const struct lr_cp_adapt_in *in, uint64_t now_ns)
{
    if (now_ns < a->next_tick_ns)
        return false;
    a->next_tick_ns = now_ns + (uint64_t)a->cfg->adaptive.tick_ms * 1000000ull;
    /* A new configured rate (PUT /sampling): follow it when the controller is not holding the
     * rate down; otherwise keep the lowered rate, capped at the new one, and step from there. */
    if (configured_pct != a->configured_pct) {
        if (a->rate_pct >= a->configured_pct || a->rate_pct > configured_pct)
            a->rate_pct = configured_pct;
        a->configured_pct = configured_pct;
    }
    double r = lr_cp_adapt_step(a->rate_pct, configured_pct, in, a->cfg);
    if (r < a->rate_pct)
        a->adjustments_down++;
    else if (r > a->rate_pct)
        a->adjustments_up++;
    a->rate_pct = r;
    a->last = *in;
    a->ticks++;
    a->scale = lr_cp_adapt_scale(a->rate_pct, a->configured_pct);
    a->lowered = a->rate_pct < a->configured_pct;
    return true;
}

void lr_cp_adapt_tick(struct lr_cp_adapt *a, const struct lr_cp_state *st, uint64_t now_ns)
{
    if (now_ns < a->next_tick_ns)
        return;
    struct lr_cp_adapt_in in = { 0 };
    if (st->kafka)
        in.queue_records = lr_cp_kafka_queue_size(st->kafka);
    for (uint32_t i = 0; i < st->n_spools; i++)
        in.spool_bytes += lr_cp_spool_used_bytes(st->spools[i]);
    if (st->n_spools)
        in.spool_max_bytes = a->cfg->spool.max_bytes;
    if (lr_cp_adapt_update(a, configured(a->rt, a->cfg), &in, now_ns))
        publish(a);
}

int lr_cp_adapt_wait_ms(const struct lr_cp_adapt *a, uint64_t now_ns)
{
    if (now_ns >= a->next_tick_ns)
        return 0;
    uint64_t ms = (a->next_tick_ns - now_ns + 999999) / 1000000;
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

double lr_cp_sampling_rate_pct(struct lr_sampling_rt *rt, bool *head)
{
    const struct lr_sampling_set *set = rt ? atomic_load(&rt->cur) : NULL;
    *head = set && set->head;
    if (!set)
        return 100.0;
    return set->traces_percentage * lr_sampling_scale(rt);
}

void lr_cp_adapt_metrics_write(const struct lr_cp_adapt *a, bool head, double rate_pct, FILE *f)
{
    if (head)
        fprintf(f,
                "# HELP linerate_sampling_rate_percent The effective head-sampling rate of "
                "traces, in percent: the configured one, or lower while the adaptive "
                "controller holds it down.\n"
                "# TYPE linerate_sampling_rate_percent gauge\n"
                "linerate_sampling_rate_percent %.6g\n",
                rate_pct);
    if (!a)
        return;
    fprintf(f,
            "# HELP linerate_sampling_adaptive_lowered 1 while the adaptive controller holds the "
            "rate below the configured one (errors and slow spans are always kept).\n"
            "# TYPE linerate_sampling_adaptive_lowered gauge\n"
            "linerate_sampling_adaptive_lowered %d\n"
            "# HELP linerate_sampling_adaptive_adjustments_total Controller ticks that lowered "
            "(down) or raised (up) the rate.\n"
            "# TYPE linerate_sampling_adaptive_adjustments_total counter\n"
            "linerate_sampling_adaptive_adjustments_total{direction=\"down\"} %llu\n"
            "linerate_sampling_adaptive_adjustments_total{direction=\"up\"} %llu\n",
            a->lowered ? 1 : 0, (unsigned long long)a->adjustments_down,
            (unsigned long long)a->adjustments_up);
}
