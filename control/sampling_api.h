/* GET and PUT /sampling on the admin endpoint (control/sampling_api.c): the sampling settings in
 * force, and run-time changes to them without a restart.
 *
 * A PUT builds a new lr_sampling_set from the current one and the body, then publishes it with
 * one atomic store: each worker switches between two requests. Replaced sets (and policies no
 * set uses any more) are freed once every worker has loaded a newer generation. Everything here
 * runs on the control thread. */
#ifndef LINERATE_CP_SAMPLING_API_H
#define LINERATE_CP_SAMPLING_API_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "linerate/config.h"
#include "linerate/sampling.h"

struct lr_cp_sampling; /* opaque: the sets published so far */

/* `rt` and `cfg` are borrowed and must outlive the handle; `n_workers` readers of rt->seen.
 * Returns owned (lr_cp_sampling_free) or NULL (out of memory). */
struct lr_cp_sampling *lr_cp_sampling_new(struct lr_sampling_rt *rt, const struct lr_config *cfg,
                                          uint32_t n_workers);

/* Frees every set published through the handle. Only once no worker runs any more. */
void lr_cp_sampling_free(struct lr_cp_sampling *s);

/* GET /sampling: writes the settings in force as JSON to `f`. */
void lr_cp_sampling_get(struct lr_cp_sampling *s, FILE *f);

/* PUT /sampling. `auth` is the Authorization header value (borrowed; NULL when absent), `body`
 * a JSON or YAML mapping with any of
 *   {"head": {"enabled": B, "sampling_percentage": P, "logs": {"enabled": B,
 *             "sampling_percentage": P}},
 *    "tail": {"policies": [ ...the Collector's policies... ]}}
 * (what is left out stays as it is). Writes the JSON answer to `f` (the new settings, or
 * {"error": ...}) and returns the HTTP status: 200, 400 (bad body), 401 (missing or wrong
 * token), 403 (admin.token is empty: changes are off), 409 (tail policies while tail sampling
 * is not enabled in the configuration), 500 (out of memory). */
int lr_cp_sampling_put(struct lr_cp_sampling *s, const char *auth, size_t auth_len,
                       const uint8_t *body, size_t len, FILE *f);

/* Frees the sets no worker can still be reading. Called from the control loop. */
void lr_cp_sampling_reclaim(struct lr_cp_sampling *s);

#endif
