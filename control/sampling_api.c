/* GET and PUT /sampling (control/sampling_api.h). */
#include "sampling_api.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "../dataplane/tail_policy.h"

/* A set this handle published, or policies it parsed; freed once no worker can read it. */
struct owned {
    struct lr_sampling_set *set;  /* NULL for a policies-only entry */
    struct lr_tail_policies *pol; /* owned policies (NULL: none) */
    uint64_t last_gen;            /* the newest generation that uses it */
};

struct lr_cp_sampling {
    struct lr_sampling_rt *rt;
    const struct lr_config *cfg;
    uint32_t n_workers;
    struct owned *o;
    size_t n, cap;
};

struct lr_cp_sampling *lr_cp_sampling_new(struct lr_sampling_rt *rt, const struct lr_config *cfg,
                                          uint32_t n_workers)
{
    struct lr_cp_sampling *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->rt = rt;
    s->cfg = cfg;
    s->n_workers = n_workers < LR_SAMPLING_MAX_WORKERS ? n_workers : LR_SAMPLING_MAX_WORKERS;
    return s;
}

void lr_cp_sampling_free(struct lr_cp_sampling *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->o[i].set);
        lr_dp_tail_policies_free(s->o[i].pol);
    }
    free(s->o);
    free(s);
}

/* The oldest generation a worker may still be reading: the smallest one any worker stored. A
 * worker stores the generation of the set it loaded after loading it, so the set it holds is at
 * least as new as what it stored; 0 (none stored yet) keeps everything. Workers store it at
 * least once per tick, so an idle worker does not hold old sets back for long. */
static uint64_t min_seen(const struct lr_cp_sampling *s, uint64_t cur)
{
    uint64_t m = cur;
    for (uint32_t i = 0; i < s->n_workers; i++) {
        uint64_t g = atomic_load_explicit(&s->rt->seen[i], memory_order_acquire);
        if (g < m)
            m = g;
    }
    return m;
}

void lr_cp_sampling_reclaim(struct lr_cp_sampling *s)
{
    struct lr_sampling_set *cur = atomic_load(&s->rt->cur);
    uint64_t m = min_seen(s, cur->generation);
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->o[i].last_gen < m) {
            free(s->o[i].set);
            lr_dp_tail_policies_free(s->o[i].pol);
        } else {
            s->o[k++] = s->o[i];
        }
    }
    s->n = k;
}

static int own(struct lr_cp_sampling *s, struct lr_sampling_set *set, struct lr_tail_policies *pol)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct owned *o = realloc(s->o, cap * sizeof(*o));
        if (!o)
            return -ENOMEM;
        s->o = o;
        s->cap = cap;
    }
    s->o[s->n++] = (struct owned){ .set = set, .pol = pol, .last_gen = set->generation };
    return 0;
}

/* Policies kept from the current set by a newer one live as long as the newer one. */
static void extend(struct lr_cp_sampling *s, const struct lr_tail_policies *pol, uint64_t gen)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->o[i].pol == pol && s->o[i].last_gen < gen)
            s->o[i].last_gen = gen;
}

static void json_str(FILE *f, const char *z)
{
    fputc('"', f);
    for (; *z; z++) {
        unsigned char c = (unsigned char)*z;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void write_set(struct lr_cp_sampling *s, const struct lr_sampling_set *set, FILE *f)
{
    double scale = lr_sampling_scale(s->rt);
    fprintf(f,
            "{\"generation\":%llu,\"head\":{\"enabled\":%s,\"sampling_percentage\":%.17g,"
            "\"effective_percentage\":%.17g,\"logs\":{\"enabled\":%s,\"sampling_percentage\":"
            "%.17g}},\"adaptive\":{\"enabled\":%s,\"scale\":%.17g},\"tail\":{\"enabled\":%s,"
            "\"policies\":",
            (unsigned long long)set->generation, set->head ? "true" : "false",
            set->traces_percentage, set->traces_percentage * scale, set->logs ? "true" : "false",
            set->logs_percentage, s->cfg->adaptive.enabled ? "true" : "false", scale,
            s->cfg->tail.enabled ? "true" : "false");
    if (set->tail) {
        size_t n = lr_dp_tail_policies_json(set->tail, NULL, 0);
        char *buf = malloc(n + 1);
        if (buf) {
            lr_dp_tail_policies_json(set->tail, buf, n + 1);
            fwrite(buf, 1, n, f);
            free(buf);
        } else {
            fputs("null", f);
        }
    } else {
        fputs("[]", f);
    }
    fputs("}}\n", f);
}

void lr_cp_sampling_get(struct lr_cp_sampling *s, FILE *f)
{
    write_set(s, atomic_load(&s->rt->cur), f);
}

/* ---- PUT ------------------------------------------------------------------------------------ */

struct put {
    yaml_document_t *doc;
    struct lr_sampling_set next;
    bool has_tail;
    struct lr_tail_policies *pol; /* parsed from the body (owned until published) */
    char err[512];
};

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static int fail(struct put *p, const yaml_node_t *n, const char *fmt, const char *a)
{
    char what[400];
    snprintf(what, sizeof(what), fmt, a);
    snprintf(p->err, sizeof(p->err), "line %zu: %s", n ? n->start_mark.line + 1 : 0, what);
    return -1;
}

static int get_bool(struct put *p, const yaml_node_t *v, const char *key, bool *out)
{
    if (v->type == YAML_SCALAR_NODE && strcmp(scalar(v), "true") == 0)
        *out = true;
    else if (v->type == YAML_SCALAR_NODE && strcmp(scalar(v), "false") == 0)
        *out = false;
    else
        return fail(p, v, "%s: expected true or false", key);
    return 0;
}

static int get_pct(struct put *p, const yaml_node_t *v, const char *key, double *out)
{
    char *end;
    if (v->type != YAML_SCALAR_NODE)
        return fail(p, v, "%s: expected a percentage (0..100)", key);
    errno = 0;
    double d = strtod(scalar(v), &end);
    if (end == scalar(v) || *end || errno || !(d >= 0 && d <= 100))
        return fail(p, v, "%s: expected a percentage (0..100)", key);
    *out = d;
    return 0;
}

typedef int (*field_fn)(struct put *p, const char *key, const yaml_node_t *v);

/* Calls `fn` for every key of the mapping `map`; `where` names it in errors. */
static int each(struct put *p, const yaml_node_t *map, const char *where, field_fn fn)
{
    if (map->type != YAML_MAPPING_NODE)
        return fail(p, map, "%s: expected a mapping", where);
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < map->data.mapping.pairs.top;
         q++) {
        yaml_node_t *k = yaml_document_get_node(p->doc, q->key);
        yaml_node_t *v = yaml_document_get_node(p->doc, q->value);
        if (k->type != YAML_SCALAR_NODE)
            return fail(p, k, "%s: keys must be strings", where);
        if (fn(p, scalar(k), v) < 0)
            return -1;
    }
    return 0;
}

static int logs_field(struct put *p, const char *key, const yaml_node_t *v)
{
    if (strcmp(key, "enabled") == 0)
        return get_bool(p, v, "head.logs.enabled", &p->next.logs);
    if (strcmp(key, "sampling_percentage") == 0)
        return get_pct(p, v, "head.logs.sampling_percentage", &p->next.logs_percentage);
    return fail(p, v, "head.logs.%s: unknown key (known: enabled, sampling_percentage)", key);
}

static int head_field(struct put *p, const char *key, const yaml_node_t *v)
{
    if (strcmp(key, "enabled") == 0)
        return get_bool(p, v, "head.enabled", &p->next.head);
    if (strcmp(key, "sampling_percentage") == 0)
        return get_pct(p, v, "head.sampling_percentage", &p->next.traces_percentage);
    if (strcmp(key, "logs") == 0)
        return each(p, v, "head.logs", logs_field);
    if (strcmp(key, "effective_percentage") == 0)
        return 0; /* what GET writes: read-only, ignored so a GET body can be PUT back */
    return fail(p, v, "head.%s: unknown key (known: enabled, sampling_percentage, logs)", key);
}

static int tail_field(struct put *p, const char *key, const yaml_node_t *v)
{
    if (strcmp(key, "policies") == 0) {
        if (v->type != YAML_SEQUENCE_NODE)
            return fail(p, v, "tail.policies: expected a sequence of policies%s", "");
        /* What GET writes while no policy is set: nothing to change. */
        if (v->data.sequence.items.start == v->data.sequence.items.top && !p->next.tail)
            return 0;
        char why[300];
        lr_dp_tail_policies_free(p->pol);
        p->pol = lr_dp_tail_policies_parse(p->doc, (yaml_node_t *)v, why, sizeof(why));
        if (!p->pol)
            return fail(p, v, "tail.policies: %s", why);
        p->has_tail = true;
        return 0;
    }
    if (strcmp(key, "enabled") == 0)
        return 0; /* read-only (configuration): ignored so a GET body can be PUT back */
    return fail(p, v, "tail.%s: unknown key (known: policies)", key);
}

static int top_field(struct put *p, const char *key, const yaml_node_t *v)
{
    if (strcmp(key, "head") == 0)
        return each(p, v, "head", head_field);
    if (strcmp(key, "tail") == 0)
        return each(p, v, "tail", tail_field);
    if (strcmp(key, "generation") == 0 || strcmp(key, "adaptive") == 0)
        return 0; /* read-only */
    return fail(p, v, "%s: unknown key (known: head, tail)", key);
}

/* Constant-time comparison of the bearer token. */
static bool token_ok(const char *want, const char *auth, size_t auth_len)
{
    static const char prefix[] = "Bearer ";
    size_t wl = strlen(want), pl = sizeof(prefix) - 1;
    if (!auth || auth_len != pl + wl || strncasecmp(auth, prefix, pl) != 0)
        return false;
    unsigned char d = 0;
    for (size_t i = 0; i < wl; i++)
        d |= (unsigned char)(auth[pl + i] ^ want[i]);
    return d == 0;
}

static int answer_error(FILE *f, int status, const char *msg)
{
    fputs("{\"error\":", f);
    json_str(f, msg);
    fputs("}\n", f);
    return status;
}

int lr_cp_sampling_put(struct lr_cp_sampling *s, const char *auth, size_t auth_len,
                       const uint8_t *body, size_t len, FILE *f)
{
    if (!s->cfg->admin.token[0])
        return answer_error(f, 403,
                            "runtime changes are off: set admin.token to allow PUT /sampling");
    if (!token_ok(s->cfg->admin.token, auth, auth_len))
        return answer_error(f, 401, "missing or wrong bearer token (Authorization: Bearer ...)");
    lr_cp_sampling_reclaim(s);
    const struct lr_sampling_set *cur = atomic_load(&s->rt->cur);
    struct put p = { .next = *cur };
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return answer_error(f, 500, "out of memory");
    yaml_parser_set_input_string(&parser, body, len);
    if (!yaml_parser_load(&parser, &doc)) {
        char msg[400];
        snprintf(msg, sizeof(msg), "line %zu: not JSON or YAML: %s", parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "syntax error");
        yaml_parser_delete(&parser);
        return answer_error(f, 400, msg);
    }
    p.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = root ? each(&p, root, "(body)", top_field) : fail(&p, NULL, "empty body%s", "");
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc < 0) {
        lr_dp_tail_policies_free(p.pol);
        return answer_error(f, 400, p.err);
    }
    if (p.has_tail && !s->cfg->tail.enabled) {
        lr_dp_tail_policies_free(p.pol);
        return answer_error(f, 409,
                            "tail sampling is not enabled in the configuration "
                            "(processors.tail_sampling.enabled): its policies cannot be set");
    }
    struct lr_sampling_set *next = malloc(sizeof(*next));
    if (!next) {
        lr_dp_tail_policies_free(p.pol);
        return answer_error(f, 500, "out of memory");
    }
    *next = p.next;
    next->generation = cur->generation + 1;
    if (p.has_tail)
        next->tail = p.pol;
    if (own(s, next, p.has_tail ? p.pol : NULL) < 0) {
        free(next);
        lr_dp_tail_policies_free(p.pol);
        return answer_error(f, 500, "out of memory");
    }
    if (!p.has_tail && next->tail)
        extend(s, next->tail, next->generation);
    atomic_store_explicit(&s->rt->cur, next, memory_order_release);
    write_set(s, next, f);
    return 200;
}
