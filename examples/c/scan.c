/*
 * scan.c — find and print orphaned and zombie AI-agent processes with
 * procreap's C API. Scan only: this program never signals anything.
 *
 *   scan [--min-age-ms N] [--marker PATH] [--explain] [NAME...]
 *
 * With no arguments it scans with the defaults (Gas Town's agent names,
 * min age 60 s, workspace marker "mayor/town.json"). NAMEs replace the
 * agent names; --marker "" turns the workspace test off; --explain also
 * prints every agent process with its verdict and reason.
 *
 * Build (shared):  cc scan.c -I include -L target/release -lprocreap \
 *                     -Wl,-rpath,"$PWD/target/release"
 * Build (static):  cc scan.c -I include target/release/libprocreap.a \
 *                     -lpthread -ldl -lm
 *
 * Exit status: 0 when the scans ran (a zombie scan that refuses to run blind
 * — no tmux server and nothing protected — is reported, not a failure),
 * 1 on any other error, 2 on a usage error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procreap.h"

static const char *or_dash(const char *s) { return s ? s : "-"; }

static const char *verdict_name(procreap_verdict_kind v)
{
    switch (v) {
    case PROCREAP_VERDICT_KIND_DEFUNCT: return "defunct";
    case PROCREAP_VERDICT_KIND_OTHER_USER: return "other-user";
    case PROCREAP_VERDICT_KIND_PROTECTED: return "protected";
    case PROCREAP_VERDICT_KIND_HAS_TTY: return "has-tty";
    case PROCREAP_VERDICT_KIND_IDE_LAUNCHED: return "ide-launched";
    case PROCREAP_VERDICT_KIND_TOO_YOUNG: return "too-young";
    case PROCREAP_VERDICT_KIND_OUTSIDE_WORKSPACE: return "outside-workspace";
    case PROCREAP_VERDICT_KIND_ORPHAN: return "orphan";
    }
    return "?";
}

static void print_process(const procreap_process *p)
{
    printf("  pid %d  ppid %d  start %llu  age %.0fs  state %c  tty %s  name %s\n"
           "      workspace %s\n      cmd %s\n",
           (int)p->pid, (int)p->ppid, (unsigned long long)p->start_time, p->age_secs,
           p->state, or_dash(p->tty), or_dash(p->name), or_dash(p->workspace_root),
           or_dash(p->cmdline));
}

/* Prints a failed call's status and message, then frees the error. */
static void print_error(const char *what, procreap_status st, procreap_error *err)
{
    /* The message already names the kind of failure; the status string is
       the fallback when the caller passed no error object. */
    const char *msg = procreap_error_message(err);
    fprintf(stderr, "%s: %s\n", what, msg ? msg : procreap_status_str(st));
    procreap_error_free(err);
}

typedef procreap_status (*find_fn)(const procreap_config *, procreap_process_list **,
                                   procreap_error **);

/* Runs one scan. Returns 0 on success or on a reported "tmux unavailable". */
static int scan(const char *label, find_fn find, const procreap_config *cfg)
{
    procreap_process_list *list = NULL;
    procreap_error *err = NULL;
    procreap_status st = find(cfg, &list, &err);
    if (st == PROCREAP_STATUS_TMUX_UNAVAILABLE) {
        /* Not a failure: the zombie scan refuses to judge without tmux. */
        printf("%s: not scanned: %s\n", label, or_dash(procreap_error_message(err)));
        procreap_error_free(err);
        return 0;
    }
    if (st != PROCREAP_STATUS_OK) {
        print_error(label, st, err);
        return 1;
    }
    printf("%s: %zu\n", label, list->len);
    for (size_t i = 0; i < list->len; i++)
        print_process(&list->items[i]);
    procreap_process_list_free(list);
    return 0;
}

static int explain(const procreap_config *cfg)
{
    procreap_verdict_list *list = NULL;
    procreap_error *err = NULL;
    procreap_status st = procreap_explain(cfg, &list, &err);
    if (st != PROCREAP_STATUS_OK) {
        print_error("explain", st, err);
        return 1;
    }
    printf("agent processes: %zu\n", list->len);
    for (size_t i = 0; i < list->len; i++) {
        const procreap_verdict *v = &list->items[i];
        printf("  pid %d  %s: %s\n", (int)v->process.pid, verdict_name(v->verdict),
               or_dash(v->reason));
    }
    procreap_verdict_list_free(list);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: scan [--min-age-ms N] [--marker PATH] [--explain] [NAME...]\n");
    return 2;
}

int main(int argc, char **argv)
{
    procreap_config *cfg = procreap_config_new();
    if (!cfg) {
        fprintf(stderr, "procreap_config_new failed\n");
        return 1;
    }
    int rc = 0, want_explain = 0, i = 1;
    procreap_error *err = NULL;
    procreap_status st = PROCREAP_STATUS_OK;

    for (; i < argc && rc == 0; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "--explain") == 0) {
            want_explain = 1;
        } else if (strcmp(argv[i], "--min-age-ms") == 0 && i + 1 < argc) {
            char *end;
            errno = 0;
            unsigned long long ms = strtoull(argv[++i], &end, 10);
            if (errno || *end || argv[i][0] == '\0' || argv[i][0] == '-')
                rc = usage();
            else if ((st = procreap_config_set_min_age_ms(cfg, ms, &err)) != PROCREAP_STATUS_OK)
                rc = 1;
        } else if (strcmp(argv[i], "--marker") == 0 && i + 1 < argc) {
            if ((st = procreap_config_set_workspace_marker(cfg, argv[++i], &err)) !=
                PROCREAP_STATUS_OK)
                rc = 1;
        } else if (argv[i][0] == '-') {
            rc = usage();
        } else {
            break;
        }
    }
    /* The remaining arguments are agent names. */
    if (rc == 0 && i < argc) {
        st = procreap_config_set_agent_names(cfg, (const char *const *)&argv[i],
                                             (size_t)(argc - i), &err);
        if (st != PROCREAP_STATUS_OK)
            rc = 1;
    }
    if (rc == 1 && err) {
        print_error("configuration", st, err);
        err = NULL;
    }

    if (rc == 0) {
        printf("procreap %s (scan only: nothing is signalled)\n", procreap_version());
        rc |= scan("orphans", procreap_find_orphans, cfg);
        rc |= scan("zombies", procreap_find_zombies, cfg);
        if (want_explain)
            rc |= explain(cfg);
    }
    procreap_config_free(cfg);
    return rc;
}
