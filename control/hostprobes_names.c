/* The host probes' names: see control/hostprobes_names.h. */
#include "hostprobes_names.h"

#include <stdio.h>
#include <string.h>

const char *const lr_cp_host_probe_names[LR_CP_HOST_N_PROBES] = {
    "tcp_retransmit", "tcp_state", "tcp_reset_sent", "tcp_reset_received",
    "tcp_rtt",        "runq",      "disk",           "skb_drop",
    "softirq",        "exec",      "exit",           "oom",
};

/* The next name of `list` from *p: [*start, *end), or false at the end. */
static bool next_token(const char **p, const char **start, const char **end)
{
    const char *s = *p;
    while (*s == ' ' || *s == ',')
        s++;
    const char *q = s;
    while (*q && *q != ',' && *q != ' ')
        q++;
    *p = q;
    *start = s;
    *end = q;
    return q != s;
}

static bool token_is(const char *s, const char *e, const char *name)
{
    size_t n = strlen(name);
    return (size_t)(e - s) == n && strncmp(s, name, n) == 0;
}

bool lr_cp_host_probe_selected(const char *list, const char *name)
{
    const char *p = list, *s, *e;
    while (next_token(&p, &s, &e))
        if (token_is(s, e, "all") || token_is(s, e, name))
            return true;
    return false;
}

int lr_cp_host_probes_check(const char *list, char *why, size_t whylen)
{
    const char *p = list, *s, *e;
    while (next_token(&p, &s, &e)) {
        bool known = token_is(s, e, "all");
        for (size_t i = 0; i < LR_CP_HOST_N_PROBES && !known; i++)
            known = token_is(s, e, lr_cp_host_probe_names[i]);
        if (known)
            continue;
        char names[256] = "all";
        size_t n = strlen(names);
        for (size_t i = 0; i < LR_CP_HOST_N_PROBES && n < sizeof(names); i++)
            n += (size_t)snprintf(names + n, sizeof(names) - n, ", %s", lr_cp_host_probe_names[i]);
        snprintf(why, whylen, "unknown probe \"%.*s\" (%s)", (int)(e - s), s, names);
        return -1;
    }
    return 0;
}
