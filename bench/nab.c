/* bench/nab: streams every series of the Numenta Anomaly Benchmark through linerate's detector
 * (lr_gpu_anom_step, all series batched together, one row per tick, as the anomaly batcher does
 * in production) and scores the detections with NAB's method (bench/nab_score.h).
 *
 * Usage: build/bench/nab [NAB_DIR [DEVICE]]   NAB_DIR defaults to ../shared/data/nab (relative to
 * the repository root, where it runs from); DEVICE is auto, cpu or cuda (default cpu).
 *
 * A detection is a tick on which a series opens (score >= threshold while closed; it stays open
 * REST ticks after its last tick >= threshold). Printed: the scores of production's own opened
 * flags (its fixed LR_ANOM_THRESHOLD), and NAB's procedure, one threshold per profile for the
 * whole corpus, chosen by sweeping it over [0.05, 1] (the open/rest state machine is replayed on
 * the scores at each threshold). Exit status 0 unless the data cannot be read. */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../gpu/anom_algo.h"
#include "linerate/anomaly.h"
#include "nab_score.h"
#include "util.h"

struct series {
    char name[128];
    size_t n;
    char (*ts)[20]; /* "YYYY-MM-DD hh:mm:ss" */
    float *value;
    float *score;
    uint8_t *opened;
    uint8_t *det;
    size_t n_windows;
    size_t *win_lo, *win_hi;
};

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz);
    if (!p) {
        fprintf(stderr, "nab: out of memory\n");
        exit(2);
    }
    return p;
}

static int load_csv(const char *path, struct series *s)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "nab: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096;
    s->ts = xcalloc(cap, sizeof(*s->ts));
    s->value = xcalloc(cap, sizeof(float));
    char line[256];
    int first = 1;
    while (fgets(line, sizeof(line), f)) {
        if (first) { /* header */
            first = 0;
            continue;
        }
        char *comma = strchr(line, ',');
        if (!comma || comma - line < 19)
            continue;
        if (s->n == cap) {
            cap *= 2;
            s->ts = realloc(s->ts, cap * sizeof(*s->ts));
            s->value = realloc(s->value, cap * sizeof(float));
            if (!s->ts || !s->value)
                return -1;
        }
        memcpy(s->ts[s->n], line, 19);
        s->ts[s->n][19] = 0;
        s->value[s->n] = strtof(comma + 1, NULL);
        s->n++;
    }
    fclose(f);
    return 0;
}

/* First row whose timestamp is >= t (the labels carry ".000000" after the seconds). */
static size_t row_at_or_after(const struct series *s, const char *t)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strncmp(s->ts[mid], t, 19) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void replay(const struct series *s, float threshold, uint8_t *det)
{
    int32_t rest = 0;
    for (size_t i = 0; i < s->n; i++) {
        int32_t r = lr_anom_open_step(rest, s->score[i], threshold);
        det[i] = rest == 0 && r > 0;
        rest = r;
    }
}

static void parts_of(struct series *ss, size_t ns, const uint8_t *const *dets,
                     struct lr_nab_parts *p)
{
    memset(p, 0, sizeof(*p));
    for (size_t k = 0; k < ns; k++) {
        struct lr_nab_file f = { ss[k].n, ss[k].n_windows, ss[k].win_lo, ss[k].win_hi };
        lr_nab_score_file(&f, dets[k], p);
    }
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "../shared/data/nab";
    enum lr_anom_device dev = LR_ANOM_DEV_CPU;
    if (argc > 2)
        dev = !strcmp(argv[2], "auto")   ? LR_ANOM_DEV_AUTO
              : !strcmp(argv[2], "cuda") ? LR_ANOM_DEV_CUDA
                                         : LR_ANOM_DEV_CPU;
    char path[4096];
    snprintf(path, sizeof(path), "%s/labels/combined_windows.json", dir);
    struct json_object *labels = json_object_from_file(path);
    if (!labels || !json_object_is_type(labels, json_type_object)) {
        fprintf(stderr, "nab: cannot read %s\n", path);
        return 1;
    }
    size_t ns = (size_t)json_object_object_length(labels);
    struct series *ss = xcalloc(ns, sizeof(*ss));
    size_t k = 0, total_rows = 0, max_rows = 0, total_windows = 0;
    json_object_object_foreach(labels, key, val)
    {
        struct series *s = &ss[k++];
        snprintf(s->name, sizeof(s->name), "%s", key);
        snprintf(path, sizeof(path), "%s/data/%s", dir, key);
        if (load_csv(path, s) != 0)
            return 1;
        size_t nw = json_object_array_length(val);
        s->win_lo = xcalloc(nw, sizeof(size_t));
        s->win_hi = xcalloc(nw, sizeof(size_t));
        for (size_t w = 0; w < nw; w++) {
            struct json_object *win = json_object_array_get_idx(val, w);
            const char *a = json_object_get_string(json_object_array_get_idx(win, 0));
            const char *b = json_object_get_string(json_object_array_get_idx(win, 1));
            if (!a || !b || strlen(a) < 19 || strlen(b) < 19) {
                fprintf(stderr, "nab: %s: bad window\n", key);
                return 1;
            }
            size_t lo = row_at_or_after(s, a), hi = row_at_or_after(s, b);
            if (hi == s->n || strncmp(s->ts[hi], b, 19) > 0)
                hi--; /* the last row at or before b */
            if (lo >= s->n || hi < lo)
                continue;
            s->win_lo[s->n_windows] = lo;
            s->win_hi[s->n_windows] = hi;
            s->n_windows++;
        }
        total_windows += s->n_windows;
        s->score = xcalloc(s->n, sizeof(float));
        s->opened = xcalloc(s->n, 1);
        s->det = xcalloc(s->n, 1);
        total_rows += s->n;
        if (s->n > max_rows)
            max_rows = s->n;
    }

    char err[256];
    struct lr_gpu_anom *d = lr_gpu_anom_new(dev, (uint32_t)ns, 1, err, sizeof(err));
    if (!d) {
        fprintf(stderr, "nab: %s\n", err);
        return 1;
    }
    uint32_t *ids = xcalloc(ns, sizeof(uint32_t));
    float *in = xcalloc(ns, sizeof(float));
    struct lr_anom_out *out = xcalloc(ns, sizeof(*out));
    double t0 = bench_now_s();
    for (size_t t = 0; t < max_rows; t++) {
        size_t n = 0;
        for (k = 0; k < ns; k++) {
            if (t < ss[k].n) {
                ids[n] = (uint32_t)k;
                in[n] = ss[k].value[t];
                n++;
            }
        }
        int rc = lr_gpu_anom_step(d, ids, in, n, out);
        if (rc != 0) {
            fprintf(stderr, "nab: lr_gpu_anom_step: %d\n", rc);
            return 1;
        }
        for (size_t i = 0; i < n; i++) {
            ss[ids[i]].score[t] = out[i].score;
            ss[ids[i]].opened[t] = out[i].opened;
        }
    }
    double t_det = bench_now_s() - t0;

    struct lr_nab_parts perfect = { 0 };
    for (k = 0; k < ns; k++) {
        struct lr_nab_file f = { ss[k].n, ss[k].n_windows, ss[k].win_lo, ss[k].win_hi };
        lr_nab_perfect_file(&f, &perfect);
    }
    const uint8_t **dets = xcalloc(ns, sizeof(*dets));

    /* Production: the detector's own opened flags, and a check that the replay matches them. */
    size_t mismatch = 0;
    for (k = 0; k < ns; k++) {
        replay(&ss[k], LR_ANOM_THRESHOLD, ss[k].det);
        for (size_t i = 0; i < ss[k].n; i++)
            mismatch += ss[k].det[i] != ss[k].opened[i];
        dets[k] = ss[k].opened;
    }
    struct lr_nab_parts prod;
    parts_of(ss, ns, dets, &prod);

    printf("NAB corpus: %zu files, %zu rows, %zu windows (%zu scored); device %s; detector %.3f s "
           "(%.0f series-checks/s)\n",
           ns, total_rows, total_windows, perfect.n_windows, lr_gpu_anom_device(d), t_det,
           (double)total_rows / t_det);
    printf("production (threshold %.3f, rest %d ticks): tp %zu/%zu fp %zu; replay mismatches %zu\n",
           (double)LR_ANOM_THRESHOLD, LR_ANOM_REST, prod.n_tp, prod.n_windows, prod.n_fp, mismatch);
    for (int p = 0; p < 3; p++)
        printf("  %-20s %6.1f\n", lr_nab_profiles[p].name,
               lr_nab_normalised(&prod, &perfect, &lr_nab_profiles[p]));

    /* NAB's procedure: one threshold per profile for the corpus. */
    double best[3] = { -1e300, -1e300, -1e300 };
    float best_t[3] = { 0 };
    struct lr_nab_parts best_p[3];
    for (k = 0; k < ns; k++)
        dets[k] = ss[k].det;
    for (int g = 50; g <= 1000; g++) {
        float th = (float)g / 1000.0f;
        for (k = 0; k < ns; k++)
            replay(&ss[k], th, ss[k].det);
        struct lr_nab_parts parts;
        parts_of(ss, ns, dets, &parts);
        for (int p = 0; p < 3; p++) {
            double v = lr_nab_normalised(&parts, &perfect, &lr_nab_profiles[p]);
            if (v > best[p]) {
                best[p] = v;
                best_t[p] = th;
                best_p[p] = parts;
            }
        }
    }
    printf("NAB, threshold optimised per profile over the corpus:\n");
    for (int p = 0; p < 3; p++)
        printf("  %-20s %6.1f  threshold %.3f  tp %zu/%zu fp %zu\n", lr_nab_profiles[p].name,
               best[p], (double)best_t[p], best_p[p].n_tp, best_p[p].n_windows, best_p[p].n_fp);

    if (getenv("NAB_VERBOSE")) { /* per file, at the standard profile's threshold */
        for (k = 0; k < ns; k++) {
            replay(&ss[k], best_t[0], ss[k].det);
            struct lr_nab_parts fp = { 0 };
            struct lr_nab_file f = { ss[k].n, ss[k].n_windows, ss[k].win_lo, ss[k].win_hi };
            lr_nab_score_file(&f, ss[k].det, &fp);
            printf("  %-60s rows %6zu windows %zu tp %zu (%.2f) fp %zu (%.2f)\n", ss[k].name,
                   ss[k].n, fp.n_windows, fp.n_tp, fp.tp, fp.n_fp, fp.fp);
        }
    }
    lr_gpu_anom_free(d);
    json_object_put(labels);
    for (k = 0; k < ns; k++) {
        free(ss[k].ts);
        free(ss[k].value);
        free(ss[k].score);
        free(ss[k].opened);
        free(ss[k].det);
        free(ss[k].win_lo);
        free(ss[k].win_hi);
    }
    free(ss);
    free(ids);
    free(in);
    free(out);
    free(dets);
    return 0;
}
