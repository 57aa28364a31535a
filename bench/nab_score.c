/* NAB scoring; see nab_score.h for the rules and where they come from. */
#include "nab_score.h"

#include <math.h>

const struct lr_nab_cost lr_nab_profiles[3] = {
    { "standard", 1.0, 0.11, 1.0 },
    { "reward_low_FP_rate", 1.0, 0.22, 1.0 },
    { "reward_low_FN_rate", 1.0, 0.11, 2.0 },
};

size_t lr_nab_probation(size_t n_rows)
{
    size_t p = (size_t)floor(0.15 * (double)n_rows);
    return p < 750 ? p : 750; /* 0.15 * 5000 */
}

double lr_nab_sigmoid(double p)
{
    if (p >= 3.0)
        return -1.0;
    return 2.0 / (1.0 + exp(5.0 * p)) - 1.0;
}

void lr_nab_score_file(const struct lr_nab_file *f, const uint8_t *det, struct lr_nab_parts *acc)
{
    size_t prob = lr_nab_probation(f->n_rows);
    double max_tp = lr_nab_sigmoid(-1.0);
    size_t w = 0;      /* next window (or the current one) */
    int have_prev = 0; /* a window ended before row i */
    size_t prev_hi = 0;
    double prev_width = 0;
    for (size_t k = 0; k < f->n_windows; k++)
        if (f->win_hi[k] >= prob)
            acc->n_windows++;
    int detected = 0; /* the current window has its detection */
    for (size_t i = 0; i < f->n_rows; i++) {
        while (w < f->n_windows && f->win_hi[w] < i) {
            have_prev = 1;
            prev_hi = f->win_hi[w];
            prev_width = (double)(f->win_hi[w] - f->win_lo[w] + 1);
            w++;
            detected = 0;
        }
        int in_win = w < f->n_windows && i >= f->win_lo[w];
        if (!det[i] || i < prob)
            continue;
        if (in_win) {
            if (!detected) {
                double width = (double)(f->win_hi[w] - f->win_lo[w] + 1);
                double p = -((double)(f->win_hi[w] - i) + 1.0) / width;
                acc->tp += lr_nab_sigmoid(p) / max_tp;
                acc->n_tp++;
                detected = 1;
            }
        } else {
            double s = -1.0;
            if (have_prev && prev_width > 1.0)
                s = lr_nab_sigmoid((double)(i - prev_hi) / (prev_width - 1.0));
            acc->fp += s;
            acc->n_fp++;
        }
    }
}

void lr_nab_perfect_file(const struct lr_nab_file *f, struct lr_nab_parts *acc)
{
    size_t prob = lr_nab_probation(f->n_rows);
    double max_tp = lr_nab_sigmoid(-1.0);
    for (size_t k = 0; k < f->n_windows; k++) {
        if (f->win_hi[k] < prob)
            continue;
        size_t i = f->win_lo[k] > prob ? f->win_lo[k] : prob;
        double width = (double)(f->win_hi[k] - f->win_lo[k] + 1);
        acc->tp += lr_nab_sigmoid(-((double)(f->win_hi[k] - i) + 1.0) / width) / max_tp;
        acc->n_tp++;
        acc->n_windows++;
    }
}

double lr_nab_raw(const struct lr_nab_parts *p, const struct lr_nab_cost *c)
{
    return c->tp_weight * p->tp + c->fp_weight * p->fp -
           c->fn_weight * (double)(p->n_windows - p->n_tp);
}

double lr_nab_normalised(const struct lr_nab_parts *p, const struct lr_nab_parts *perfect,
                         const struct lr_nab_cost *c)
{
    double null = -c->fn_weight * (double)perfect->n_windows;
    double best = lr_nab_raw(perfect, c);
    return 100.0 * (lr_nab_raw(p, c) - null) / (best - null);
}
