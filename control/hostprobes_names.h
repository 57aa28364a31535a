/* The host probes' names (host_metrics.probes, /metrics, the start-up block) and the tokenising of
 * host_metrics.probes, shared by the config check (control/config.c, which the fuzz builds link)
 * and the probes (control/hostmetrics.c). No libbpf: built everywhere config.c is. */
#ifndef LINERATE_CP_HOSTPROBES_NAMES_H
#define LINERATE_CP_HOSTPROBES_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define LR_CP_HOST_N_PROBES 12

/* In the order of control/hostmetrics.c's probe table. */
extern const char *const lr_cp_host_probe_names[LR_CP_HOST_N_PROBES];

/* Whether probe `name` is in `list`, names separated by commas and/or spaces; "all" selects every
 * probe. Borrows both. */
bool lr_cp_host_probe_selected(const char *list, const char *name);

/* Checks that every name in `list` is "all" or a probe's. Returns 0, or -1 with the reason (the
 * unknown name and the known ones) in why. */
int lr_cp_host_probes_check(const char *list, char *why, size_t whylen);

#endif
