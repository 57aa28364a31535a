/* linerate's command line (lr_cp_cli_parse in include/linerate/config.h).
 *
 * Two passes over argv with getopt_long: the first applies --config (wherever it stands) and
 * answers --help, --version and --print-config-doc; the second applies the other flags in order,
 * so that a flag always overrides the file. getopt keeps global state: main thread only. */
#include "errf.h"
#include "linerate/config.h"

#include <getopt.h>
#include <stdarg.h>
#include <string.h>

#ifndef LR_VERSION
#define LR_VERSION "0.1.0"
#endif

enum {
    OPT_CONFIG = 'c',
    OPT_HELP = 'h',
    OPT_VERSION = 'V',
    OPT_ENDPOINT = 256,
    OPT_ADMIN,
    OPT_BROKERS,
    OPT_CORES,
    OPT_RUN_DIR,
    OPT_SET,
    OPT_GRPC_ENDPOINT,
    OPT_PRINT_DOC,
    OPT_CHECK,
};

static const struct option options[] = {
    { "config", required_argument, NULL, OPT_CONFIG },
    { "endpoint", required_argument, NULL, OPT_ENDPOINT },
    { "grpc-endpoint", required_argument, NULL, OPT_GRPC_ENDPOINT },
    { "admin", required_argument, NULL, OPT_ADMIN },
    { "brokers", required_argument, NULL, OPT_BROKERS },
    { "cores", required_argument, NULL, OPT_CORES },
    { "run-dir", required_argument, NULL, OPT_RUN_DIR },
    { "set", required_argument, NULL, OPT_SET },
    { "print-config-doc", no_argument, NULL, OPT_PRINT_DOC },
    { "check-config", no_argument, NULL, OPT_CHECK },
    { "help", no_argument, NULL, OPT_HELP },
    { "version", no_argument, NULL, OPT_VERSION },
    { NULL, 0, NULL, 0 },
};

/* Leading ':' : a missing argument returns ':' rather than '?', and getopt prints nothing. */
static const char short_options[] = ":c:hV";

/* The flags that stand for one configuration key. */
static const struct {
    int opt;
    const char *flag;
    const char *key;
} flag_keys[] = {
    { OPT_ENDPOINT, "--endpoint", "receivers.otlp.protocols.http.endpoint" },
    { OPT_GRPC_ENDPOINT, "--grpc-endpoint", "receivers.otlp.protocols.grpc.endpoint" },
    { OPT_ADMIN, "--admin", "admin.endpoint" },
    { OPT_BROKERS, "--brokers", "exporters.kafka.brokers" },
    { OPT_CORES, "--cores", "workers.cores" },
    { OPT_RUN_DIR, "--run-dir", "service.run_dir" },
};

static const char usage[] =
    "usage: linerate [FLAGS]\n"
    "\n"
    "Receives OpenTelemetry OTLP/HTTP and writes it to Kafka.\n"
    "\n"
    "  -c, --config FILE        read the YAML configuration FILE (applied before other flags)\n"
    "      --endpoint HOST:PORT OTLP/HTTP listen address (receivers.otlp.protocols.http.endpoint)\n"
    "      --grpc-endpoint HOST:PORT\n"
    "                           OTLP/gRPC listen address (receivers.otlp.protocols.grpc.endpoint)\n"
    "      --admin HOST:PORT    admin server address (admin.endpoint)\n"
    "      --brokers LIST       Kafka brokers, HOST:PORT,... (exporters.kafka.brokers);\n"
    "                           empty starts the embedded broker\n"
    "      --cores LIST         worker CPUs: all, or a list such as 0-3,6 (workers.cores)\n"
    "      --run-dir DIR        folder for runtime files (service.run_dir)\n"
    "      --set KEY=VALUE      set any configuration key by its dotted name; repeatable\n"
    "      --check-config       load and check the configuration, then exit\n"
    "      --print-config-doc   print the configuration reference (Markdown), then exit\n"
    "  -h, --help               print this help, then exit\n"
    "  -V, --version            print the version, then exit\n"
    "\n"
    "Keys and defaults: docs/CONFIG.md, or --print-config-doc.\n";

/* Rewrites "KEY: REASON" from lr_cp_config_set as "FLAG: REASON". */
static void reprefix(char *errstr, size_t errlen, const char *flag, const char *key)
{
    char tmp[1024];
    size_t klen = strlen(key);
    if (!errstr || errlen == 0)
        return;
    const char *why = errstr;
    if (strncmp(errstr, key, klen) == 0 && strncmp(errstr + klen, ": ", 2) == 0)
        why = errstr + klen + 2;
    snprintf(tmp, sizeof(tmp), "%s: %s", flag, why);
    snprintf(errstr, errlen, "%s", tmp);
}

/* Reports getopt's complaint about argv[optind - 1]. */
static int bad_option(int ch, char **argv, char *errstr, size_t errlen)
{
    const char *arg = argv[optind - 1];
    if (ch == ':')
        lr_cp_errf(errstr, errlen, "%s: missing value", arg);
    else
        lr_cp_errf(errstr, errlen, "unknown option '%s' (see --help)", arg);
    return -1;
}

static int apply_set(struct lr_config *c, const char *arg, char *errstr, size_t errlen)
{
    char key[512];
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        lr_cp_errf(errstr, errlen, "--set: '%s' is not KEY=VALUE", arg);
        return -1;
    }
    if ((size_t)(eq - arg) >= sizeof(key)) {
        lr_cp_errf(errstr, errlen, "--set: the key is longer than %zu characters", sizeof(key) - 1);
        return -1;
    }
    memcpy(key, arg, (size_t)(eq - arg));
    key[eq - arg] = '\0';
    if (lr_cp_config_set(c, key, eq + 1, errstr, errlen) < 0) {
        char tmp[1024];
        snprintf(tmp, sizeof(tmp), "--set: %s", errstr ? errstr : "");
        lr_cp_errf(errstr, errlen, "%s", tmp);
        return -1;
    }
    return 0;
}

int lr_cp_cli_parse(struct lr_config *c, int argc, char **argv, char *errstr, size_t errlen)
{
    bool check = false;
    int ch;

    /* Pass 1: --config, and the flags that end the run before anything else matters. */
    opterr = 0;
    optind = 0; /* glibc: 0 also resets getopt's internal state, for a second call */
    while ((ch = getopt_long(argc, argv, short_options, options, NULL)) != -1) {
        switch (ch) {
        case OPT_CONFIG:
            if (lr_cp_config_load_file(c, optarg, errstr, errlen) < 0)
                return -1;
            break;
        case OPT_HELP:
            fputs(usage, stdout);
            fflush(stdout);
            return 1;
        case OPT_VERSION:
            fputs("linerate " LR_VERSION "\n", stdout);
            fflush(stdout);
            return 1;
        case OPT_PRINT_DOC:
            lr_cp_config_write_doc(stdout);
            fflush(stdout);
            return 1;
        case ':':
        case '?':
            return bad_option(ch, argv, errstr, errlen);
        default:
            break;
        }
    }
    if (optind < argc) {
        lr_cp_errf(errstr, errlen, "unexpected argument '%s' (see --help)", argv[optind]);
        return -1;
    }

    /* Pass 2: the other flags, in order. */
    optind = 0;
    while ((ch = getopt_long(argc, argv, short_options, options, NULL)) != -1) {
        switch (ch) {
        case OPT_SET:
            if (apply_set(c, optarg, errstr, errlen) < 0)
                return -1;
            break;
        case OPT_CHECK:
            check = true;
            break;
        case OPT_ENDPOINT:
        case OPT_GRPC_ENDPOINT:
        case OPT_ADMIN:
        case OPT_BROKERS:
        case OPT_CORES:
        case OPT_RUN_DIR:
            for (size_t i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); i++) {
                if (flag_keys[i].opt != ch)
                    continue;
                if (lr_cp_config_set(c, flag_keys[i].key, optarg, errstr, errlen) < 0) {
                    reprefix(errstr, errlen, flag_keys[i].flag, flag_keys[i].key);
                    return -1;
                }
            }
            break;
        default:
            break;
        }
    }
    if (check) {
        if (lr_cp_config_finalize(c, errstr, errlen) < 0)
            return -1;
        fputs("configuration OK\n", stdout);
        fflush(stdout);
        return 1;
    }
    return 0;
}
