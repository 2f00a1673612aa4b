/*
 * abi_contract.c — the C ABI's contract, function by function: every
 * function of include/procreap.h is called, with every NULL it can be
 * given, invalid UTF-8 and enum values, every status this machine can
 * provoke (and the name of each), every getter against its default and its
 * setter, the `_str` name functions, string lists, the scan object, and
 * what the header promises (`*err` untouched on success, SIGCHLD ignored).
 * Provoked here: NULL_PARAMETER, INVALID_ARGUMENT, IO, UNSAFE_STATE_PATH,
 * TMUX_UNAVAILABLE (when no tmux server runs), TMUX_FAILED, LEDGER_CORRUPT,
 * LOCK_TIMEOUT, COMMAND_FAILED; PERMISSION, SIGNAL_FAILED, PID_NAMESPACE,
 * UNSUPPORTED_PLATFORM and PANIC need what a C test cannot arrange (another
 * user, a foreign /proc, another OS, a bug): their names are checked, their
 * paths are the Rust suites'.
 * No process is signalled: configurations name only `prt-<random>` names
 * no process carries. Engine behaviour is the Rust suites' business; a
 * short behaviour check through C is smoke.c.
 */
#include "harness.h"

/* ------------------------------------------------------------------ part 1:
 * arguments, statuses, NULLs — no process is looked at, nothing signalled. */

static void test_static_functions(void)
{
    const char *v = procreap_version();
    CHECK(v && strcmp(v, PROCREAP_VERSION_STRING) == 0, "version %s", v ? v : "(null)");

    const char *seen[PROCREAP_STATUS_PID_NAMESPACE + 1];
    for (uint32_t s = 0; s <= PROCREAP_STATUS_PID_NAMESPACE; s++) {
        seen[s] = procreap_status_str(s);
        CHECK(seen[s] && seen[s][0] && strcmp(seen[s], "unknown status") != 0,
              "status %u has a name", (unsigned)s);
        for (uint32_t t = 0; t < s; t++)
            CHECK(!seen[s] || !seen[t] || strcmp(seen[s], seen[t]) != 0,
                  "statuses %u and %u share the name %s", (unsigned)s, (unsigned)t, seen[s]);
    }
    CHECK(strcmp(procreap_status_str(PROCREAP_STATUS_OK), "ok") == 0, "ok is \"ok\"");
    CHECK(strcmp(procreap_status_str(PROCREAP_STATUS_PID_NAMESPACE + 1), "unknown status") == 0,
          "one past the last status is unknown");
    CHECK(strcmp(procreap_status_str(999), "unknown status") == 0, "999 is unknown");
    CHECK(strcmp(procreap_status_str(UINT32_MAX), "unknown status") == 0, "UINT32_MAX");

    CHECK(procreap_error_code(NULL) == 0, "error_code(NULL) is 0");
    CHECK(procreap_error_message(NULL) == NULL, "error_message(NULL) is NULL");

    /* Every _free accepts NULL. */
    procreap_config_free(NULL);
    procreap_error_free(NULL);
    procreap_process_list_free(NULL);
    procreap_verdict_list_free(NULL);
    procreap_action_list_free(NULL);
    g_pass++;

    /* Enum values are the ABI: pin them. */
    CHECK(PROCREAP_SIGNAL_SIGTERM == SIGTERM && PROCREAP_SIGNAL_SIGKILL == SIGKILL,
          "signal numbers");
    CHECK(sizeof(procreap_status) == 4 && sizeof(procreap_signal) == 4, "enum sizes");
}

static void test_setters_null_config(void)
{
    const char *one[] = {"x"};
    int32_t pid1[] = {1};
    /* With an error object: the status and a matching error. */
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_agent_names(NULL, one, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_argv0_match(NULL, PROCREAP_ARGV0_MATCH_ALWAYS, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_min_age_ms(NULL, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_grace_ms(NULL, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_workspace_marker(NULL, "m", &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_workspace_root(NULL, "/r", &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_ide_markers(NULL, one, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER,
           procreap_config_set_protected_pid_files(NULL, one, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_protected_pids(NULL, pid1, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_tmux_sockets(NULL, one, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_all_users(NULL, false, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_kill_tree(NULL, false, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_state_dir(NULL, "/s", &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_dry_run(NULL, true, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER,
           procreap_config_set_subprocess_timeout_ms(NULL, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_lock_timeout_ms(NULL, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_backend(NULL, 0, &err));
    /* Without one (err == NULL): just the status. */
    CHECK(procreap_config_set_agent_names(NULL, one, 1, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_argv0_match(NULL, PROCREAP_ARGV0_MATCH_ALWAYS, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_min_age_ms(NULL, 1, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_grace_ms(NULL, 1, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_workspace_marker(NULL, "m", NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_workspace_root(NULL, NULL, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_ide_markers(NULL, NULL, 0, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_protected_pid_files(NULL, NULL, 0, NULL) ==
              PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_protected_pids(NULL, NULL, 0, NULL) ==
              PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_tmux_sockets(NULL, NULL, 0, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_all_users(NULL, true, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_kill_tree(NULL, true, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_state_dir(NULL, NULL, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_dry_run(NULL, false, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_subprocess_timeout_ms(NULL, 5, NULL) ==
              PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_lock_timeout_ms(NULL, 5, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
    CHECK(procreap_config_set_backend(NULL, 9, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
          "NULL err");
}

static void test_setters_bad_values(void)
{
    procreap_config *cfg = procreap_config_new();
    if (!CHECK(cfg != NULL, "config_new"))
        return;
    const char *bad[] = {"\xff\xfe-not-utf8"};
    const char *ok_then_bad[] = {"fine", "also\xc3("};
    const char *ok_then_null[] = {"fine", NULL};
    const char *nul = NULL;

    /* Invalid UTF-8 in every string setter. */
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_agent_names(cfg, bad, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT,
           procreap_config_set_agent_names(cfg, ok_then_bad, 2, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_workspace_marker(cfg, bad[0], &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_workspace_root(cfg, bad[0], &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_ide_markers(cfg, bad, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT,
           procreap_config_set_protected_pid_files(cfg, bad, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_tmux_sockets(cfg, bad, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_state_dir(cfg, bad[0], &err));
    CHECK(procreap_config_set_state_dir(cfg, bad[0], NULL) == PROCREAP_STATUS_INVALID_ARGUMENT,
          "invalid UTF-8 without an error object");

    /* NULL arrays (len > 0), NULL elements, NULL required strings. */
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_agent_names(cfg, NULL, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_agent_names(cfg, &nul, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER,
           procreap_config_set_agent_names(cfg, ok_then_null, 2, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_ide_markers(cfg, NULL, 2, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER,
           procreap_config_set_ide_markers(cfg, ok_then_null, 2, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER,
           procreap_config_set_protected_pid_files(cfg, NULL, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER,
           procreap_config_set_protected_pid_files(cfg, &nul, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_protected_pids(cfg, NULL, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_tmux_sockets(cfg, NULL, 3, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_tmux_sockets(cfg, &nul, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_workspace_marker(cfg, NULL, &err));
    /* NULL where NULL means "unset" / "default". */
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_workspace_root(cfg, NULL, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_state_dir(cfg, NULL, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_ide_markers(cfg, NULL, 0, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pid_files(cfg, NULL, 0, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pids(cfg, NULL, 0, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_tmux_sockets(cfg, NULL, 0, &err));

    /* Values no scan could use. */
    const char *slash[] = {"a/b"}, *empty[] = {""}, *sock_nul_ok[] = {"prt-sock"};
    int32_t zero[] = {0}, negative[] = {-5};
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_agent_names(cfg, NULL, 0, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_agent_names(cfg, slash, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_agent_names(cfg, empty, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_ide_markers(cfg, empty, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT,
           procreap_config_set_workspace_marker(cfg, "/abs/marker", &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT,
           procreap_config_set_workspace_root(cfg, "relative/root", &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_tmux_sockets(cfg, empty, 1, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_tmux_sockets(cfg, sock_nul_ok, 1, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_tmux_sockets(cfg, NULL, 0, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_protected_pids(cfg, zero, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT,
           procreap_config_set_protected_pids(cfg, negative, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT,
           procreap_config_set_subprocess_timeout_ms(cfg, 0, &err));
    /* Invalid enum values. */
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_backend(cfg, 9, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_backend(cfg, 3, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_backend(cfg, UINT32_MAX, &err));

    /* Every setter with a good value; the error out-parameter stays NULL. */
    const char *names[] = {"prt-unused-a", "PRT-UNUSED-B"};
    const char *markers[] = {"vscode-server", "prt-ide"};
    const char *files[] = {"~/prt-no-such.pid", "/nonexistent/prt.pid"};
    const char *sockets[] = {"prt-no-such-socket", "/nonexistent/prt-socket"};
    int32_t pids[] = {1, 2};
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_agent_names(cfg, names, 2, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_argv0_match(cfg, PROCREAP_ARGV0_MATCH_NEVER, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_min_age_ms(cfg, UINT64_MAX, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_grace_ms(cfg, 0, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_workspace_marker(cfg, "a/b.json", &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_workspace_root(cfg, "/nonexistent", &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_ide_markers(cfg, markers, 2, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pid_files(cfg, files, 2, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pids(cfg, pids, 2, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_tmux_sockets(cfg, sockets, 2, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_all_users(cfg, false, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_kill_tree(cfg, true, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_state_dir(cfg, "/nonexistent/prt", &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_dry_run(cfg, true, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_subprocess_timeout_ms(cfg, 1, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_lock_timeout_ms(cfg, 0, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_backend(cfg, PROCREAP_BACKEND_AUTO, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_backend(cfg, PROCREAP_BACKEND_PROC, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_backend(cfg, PROCREAP_BACKEND_PS, &err));
    CHECK(procreap_config_set_dry_run(cfg, false, NULL) == PROCREAP_STATUS_OK, "OK, NULL err");
    procreap_config_free(cfg);
}

static void test_calls_null_params(const procreap_config *priv)
{
    /* NULL out: NULL_PARAMETER, with or without an error object, with the
     * default configuration (NULL) or a private one. Nothing runs. */
    const procreap_config *cfgs[] = {NULL, priv};
    procreap_identity one = {1, 1};
    for (int i = 0; i < 2; i++) {
        const procreap_config *c = cfgs[i];
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_find_orphans(c, NULL, &err));
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_find_zombies(c, NULL, &err));
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_explain(c, NULL, &err));
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER,
               procreap_cleanup_step(c, PROCREAP_KIND_ORPHANS, NULL, &err));
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_reap_set(c, &one, 1, NULL, &err));
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_reap_now(c, &one, 1, 10, NULL, &err));
        CHECK(procreap_find_orphans(c, NULL, NULL) == PROCREAP_STATUS_NULL_PARAMETER, "NULL err");
        CHECK(procreap_find_zombies(c, NULL, NULL) == PROCREAP_STATUS_NULL_PARAMETER, "NULL err");
        CHECK(procreap_explain(c, NULL, NULL) == PROCREAP_STATUS_NULL_PARAMETER, "NULL err");
        CHECK(procreap_cleanup_step(c, 0, NULL, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
              "NULL err");
        CHECK(procreap_reap_set(c, NULL, 0, NULL, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
              "NULL err");
        CHECK(procreap_reap_now(c, NULL, 0, 0, NULL, NULL) == PROCREAP_STATUS_NULL_PARAMETER,
              "NULL err");

        /* NULL ids with len > 0; out is left alone. */
        procreap_action_list *out = NULL;
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_reap_set(c, NULL, 2, &out, &err));
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_reap_now(c, NULL, 2, 10, &out, &err));
        CHECK(out == NULL, "out untouched on failure");

        /* Invalid kinds are refused before anything is read. */
        EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_cleanup_step(c, 7, &out, &err));
        EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_cleanup_step(c, 3, &out, &err));
        EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_cleanup_step(c, UINT32_MAX, &out, &err));
        CHECK(procreap_cleanup_step(c, 7, &out, NULL) == PROCREAP_STATUS_INVALID_ARGUMENT,
              "NULL err");
        CHECK(out == NULL, "out untouched on failure");
    }
}

/* NULL config = the defaults. Scans only: nothing can be signalled. */
static void test_default_scans(void)
{
    procreap_process_list *pl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_find_orphans(NULL, &pl, &err));
    CHECK(pl != NULL && (pl->len == 0) == (pl->items == NULL), "find_orphans(NULL) list");
    procreap_process_list_free(pl);

    procreap_verdict_list *vl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_explain(NULL, &vl, &err));
    CHECK(vl != NULL && (vl->len == 0) == (vl->items == NULL), "explain(NULL) list");
    for (size_t i = 0; vl && i < vl->len; i++)
        CHECK(vl->items[i].reason && vl->items[i].reason[0] &&
                  vl->items[i].verdict <= PROCREAP_VERDICT_KIND_ORPHAN &&
                  vl->items[i].process.name && vl->items[i].process.cmdline,
              "verdict %zu is complete", i);
    procreap_verdict_list_free(vl);

    /* Zombies: OK (a tmux server is running), or refused as blind. */
    static procreap_process_list dummy;
    procreap_process_list *sentinel = &dummy;
    pl = sentinel;
    procreap_error *err = NULL;
    procreap_status st = procreap_find_zombies(NULL, &pl, &err);
    if (st == PROCREAP_STATUS_OK) {
        expect_at(__FILE__, __LINE__, "find_zombies(NULL)", st, PROCREAP_STATUS_OK, err);
        CHECK(pl != sentinel && pl != NULL, "list written");
        procreap_process_list_free(pl);
    } else {
        expect_at(__FILE__, __LINE__, "find_zombies(NULL)", st, PROCREAP_STATUS_TMUX_UNAVAILABLE, err);
        CHECK(pl == sentinel, "out untouched on failure");
    }

    /* reap_now with no identities signals nothing and reads no ledger. */
    procreap_action_list *al = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_reap_now(NULL, NULL, 0, 0, &al, &err));
    CHECK_AL(al, al != NULL && al->len == 0 && al->items == NULL, "empty reap_now");
    procreap_action_list_free(al);
}

/* Error statuses of the state dir and ledger, with a name no process has. */
static void test_state_errors(void)
{
    char dir[PATH_MAX], lock[PATH_MAX], link[PATH_MAX], real[PATH_MAX];
    procreap_action_list *al = NULL;
    procreap_error *err = NULL;

    /* A held lock: LOCK_TIMEOUT after ~300 ms, never a hang. */
    path_in(dir, "lockstate");
    CHECK(mkdir(dir, 0700) == 0, "mkdir lockstate");
    join(lock, dir, "ledger.lock");
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0, "hold the ledger lock");
    procreap_config *cfg = private_config(g_unused, dir);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_lock_timeout_ms(cfg, 300, &err));
    long t0 = now_ms();
    EXPECT(PROCREAP_STATUS_LOCK_TIMEOUT, procreap_cleanup_step(cfg, 0, &al, &err));
    long took = now_ms() - t0;
    CHECK(took >= 250 && took < 5000, "lock timeout after %ld ms", took);
    CHECK(al == NULL, "no list on lock timeout");
    procreap_identity nobody = {1, 1};
    EXPECT(PROCREAP_STATUS_LOCK_TIMEOUT, procreap_reap_set(cfg, &nobody, 1, &al, &err));
    CHECK(al == NULL, "no list on lock timeout");
    /* A dry run does not lock... or does it? Either way it must not hang. */
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_dry_run(cfg, true, &err));
    err = NULL;
    t0 = now_ms();
    procreap_status st = procreap_cleanup_step(cfg, 0, &al, &err);
    CHECK((st == PROCREAP_STATUS_OK || st == PROCREAP_STATUS_LOCK_TIMEOUT) &&
              now_ms() - t0 < 5000,
          "dry run with a held lock: %s", procreap_status_str(st));
    procreap_error_free(err);
    procreap_action_list_free(al);
    al = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_dry_run(cfg, false, &err));
    if (fd >= 0)
        close(fd); /* releases the lock */
    al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
    procreap_action_list_free(al);
    al = NULL;

    /* A symlinked state dir: UNSAFE_STATE_PATH, for steps and dry runs. */
    path_in(real, "realstate");
    path_in(link, "linkstate");
    CHECK(mkdir(real, 0700) == 0 && symlink(real, link) == 0, "symlinked state dir");
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_state_dir(cfg, link, &err));
    EXPECT(PROCREAP_STATUS_UNSAFE_STATE_PATH, procreap_cleanup_step(cfg, 0, &al, &err));
    CHECK(al == NULL, "no list for an unsafe state dir");
    EXPECT(PROCREAP_STATUS_UNSAFE_STATE_PATH, procreap_reap_set(cfg, NULL, 0, &al, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_dry_run(cfg, true, &err));
    EXPECT(PROCREAP_STATUS_UNSAFE_STATE_PATH, procreap_cleanup_step(cfg, 1, &al, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_dry_run(cfg, false, &err));
    CHECK(al == NULL, "no list for an unsafe state dir");

    /* A state dir writable by others: refused too. */
    path_in(dir, "openstate");
    CHECK(mkdir(dir, 0700) == 0 && chmod(dir, 0777) == 0, "mkdir openstate");
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_state_dir(cfg, dir, &err));
    EXPECT(PROCREAP_STATUS_UNSAFE_STATE_PATH, procreap_cleanup_step(cfg, 0, &al, &err));
    CHECK(al == NULL, "no list for an unsafe state dir");

    /* A corrupt ledger: moved aside, reported, and the list still written. */
    path_in(dir, "corruptstate");
    CHECK(mkdir(dir, 0700) == 0, "mkdir corruptstate");
    char ledger[PATH_MAX];
    join(ledger, dir, "ledger");
    CHECK(write_text(ledger, "this is not a procreap ledger\n", 0600), "write corrupt ledger");
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_state_dir(cfg, dir, &err));
    EXPECT(PROCREAP_STATUS_LEDGER_CORRUPT, procreap_cleanup_step(cfg, 0, &al, &err));
    CHECK_AL(al, al != NULL && al->len == 0, "corrupt ledger: the (empty) list is written");
    procreap_action_list_free(al);
    al = NULL;
    char buf[256] = "";
    read_file(ledger, buf, sizeof buf);
    CHECK(strstr(buf, "not a procreap ledger") == NULL, "corrupt ledger moved aside");
    al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
    procreap_action_list_free(al);
    procreap_config_free(cfg);
}
/* ------------------------------------------------------------------ names */

/* A `_str` function names 0..n-1 with distinct non-empty names, then NULL. */
static void check_names(const char *what, const char *(*str)(uint32_t), const char *const *want,
                        uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        const char *s = str(i);
        CHECK(s && strcmp(s, want[i]) == 0, "%s %u is %s, want %s", what, (unsigned)i,
              s ? s : "(null)", want[i]);
    }
    CHECK(str(n) == NULL && str(n + 100) == NULL && str(UINT32_MAX) == NULL,
          "%s: NULL past the last value", what);
}

static void test_names(void)
{
    static const char *const kinds[] = {"orphans", "zombies", "leaked"};
    static const char *const verdicts[] = {"defunct", "other-user", "protected", "has-tty",
                                           "ide-launched", "too-young", "outside-workspace",
                                           "orphan", "leaked", "leader-alive", "agent-alive"};
    static const char *const actions[] = {"sigterm", "waiting", "sigkill", "unkillable",
                                          "exited", "released", "skipped"};
    static const char *const deliveries[] = {"none", "pidfd", "kill"};
    static const char *const backends[] = {"auto", "proc", "ps"};
    static const char *const modes[] = {"never", "version-like", "always"};
    check_names("kind", procreap_kind_str, kinds, 3);
    check_names("verdict", procreap_verdict_kind_str, verdicts, 11);
    check_names("action", procreap_action_kind_str, actions, 7);
    check_names("delivery", procreap_delivery_str, deliveries, 3);
    check_names("backend", procreap_backend_str, backends, 3);
    check_names("argv0_match", procreap_argv0_match_str, modes, 3);
    /* The constants are the indexes. */
    CHECK(PROCREAP_KIND_ORPHANS == 0 && PROCREAP_KIND_ZOMBIES == 1 && PROCREAP_KIND_LEAKED == 2,
          "kind values");
    CHECK(PROCREAP_VERDICT_KIND_DEFUNCT == 0 && PROCREAP_VERDICT_KIND_ORPHAN == 7 &&
              PROCREAP_VERDICT_KIND_LEAKED == 8 && PROCREAP_VERDICT_KIND_AGENT_ALIVE == 10,
          "verdict values");
    CHECK(PROCREAP_DELIVERY_NONE == 0 && PROCREAP_DELIVERY_PIDFD == 1 &&
              PROCREAP_DELIVERY_KILL == 2,
          "delivery values");
    CHECK(PROCREAP_ARGV0_MATCH_VERSION_LIKE == 1 && PROCREAP_STATUS_PID_NAMESPACE == 14,
          "argv0 and status values");
}

/* ------------------------------------------------------------------ getters */

/* A string list equals `want` (n items). Frees it. */
static bool list_eq(procreap_string_list *l, const char *const *want, size_t n)
{
    bool ok = l != NULL && l->len == n && (n == 0) == (l->items == NULL);
    for (size_t i = 0; ok && i < n; i++)
        ok = l->items[i] && strcmp(l->items[i], want[i]) == 0;
    procreap_string_list_free(l);
    return ok;
}

static bool str_eq(char *s, const char *want)
{
    bool ok = (s == NULL && want == NULL) || (s && want && strcmp(s, want) == 0);
    procreap_string_free(s);
    return ok;
}

/* The defaults, read through a NULL configuration and through a new one. */
static void check_defaults(const procreap_config *c, const char *what)
{
    static const char *const names[] = {"claude", "claude-code", "codex", "opencode",
                                        "cursor-agent", "agent", "copilot"};
    static const char *const ide[] = {"vscode-server", "vscode/extensions", ".cursor-server",
                                      ".cursor/extensions"};
    static const char *const pidfiles[] = {"~/gt/mayor/mayor-acp.pid"};
    static const char *const leak[] = {"CLAUDECODE=1"};
    procreap_string_list *l = NULL;
    char *s = NULL;
    size_t len = 99;
    EXPECT(PROCREAP_STATUS_OK, procreap_config_get_agent_names(c, &l, &err));
    CHECK(list_eq(l, names, 7), "%s: agent_names", what);
    CHECK(procreap_config_get_argv0_match(c) == PROCREAP_ARGV0_MATCH_VERSION_LIKE, "%s", what);
    CHECK(procreap_config_get_min_age_ms(c) == 60000, "%s: min_age", what);
    CHECK(procreap_config_get_grace_ms(c) == 60000, "%s: grace", what);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_get_workspace_marker(c, &s, &err));
    CHECK(str_eq(s, "mayor/town.json"), "%s: workspace_marker", what);
    s = (char *)"sentinel";
    EXPECT(PROCREAP_STATUS_OK, procreap_config_get_workspace_root(c, &s, &err));
    CHECK(s == NULL, "%s: workspace_root unset reads NULL", what);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_get_ide_markers(c, &l, &err));
    CHECK(list_eq(l, ide, 4), "%s: ide_markers", what);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_get_protected_pid_files(c, &l, &err));
    CHECK(list_eq(l, pidfiles, 1), "%s: protected_pid_files", what);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_get_protected_pids(c, NULL, 0, &len, &err));
    CHECK(len == 0, "%s: protected_pids", what);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_get_tmux_sockets(c, &l, &err));
    CHECK(list_eq(l, NULL, 0), "%s: tmux_sockets", what);
    CHECK(!procreap_config_get_all_users(c), "%s: all_users", what);
    len = 99;
    EXPECT(PROCREAP_STATUS_OK, procreap_config_get_users(c, NULL, 0, &len, &err));
    CHECK(len == 0, "%s: users", what);
    CHECK(!procreap_config_get_kill_tree(c), "%s: kill_tree", what);
    s = (char *)"sentinel";
    EXPECT(PROCREAP_STATUS_OK, procreap_config_get_state_dir(c, &s, &err));
    CHECK(s == NULL, "%s: state_dir unset reads NULL", what);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_resolved_state_dir(c, &s, &err));
    CHECK(s && s[0] == '/' && strstr(s, "procreap"), "%s: resolved state dir %s", what,
          s ? s : "(null)");
    procreap_string_free(s);
    CHECK(!procreap_config_get_dry_run(c), "%s: dry_run", what);
    CHECK(procreap_config_get_subprocess_timeout_ms(c) == 2000, "%s: subprocess_timeout", what);
    CHECK(procreap_config_get_lock_timeout_ms(c) == 5000, "%s: lock_timeout", what);
    CHECK(procreap_config_get_backend(c) == PROCREAP_BACKEND_AUTO, "%s: backend", what);
    CHECK(!procreap_config_get_require_pidfd(c), "%s: require_pidfd", what);
    CHECK(procreap_config_get_audit(c), "%s: audit", what);
    CHECK(procreap_config_get_audit_max_bytes(c) == 4u << 20, "%s: audit_max_bytes", what);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_get_leak_markers(c, &l, &err));
    CHECK(list_eq(l, leak, 1), "%s: leak_markers", what);
}

/* Every setter round-trips through its getter; clone copies; a refused
 * value leaves the configuration as it was. */
static void test_getters(void)
{
    check_defaults(NULL, "NULL config");
    procreap_config *cfg = procreap_config_new();
    if (!CHECK(cfg != NULL, "config_new"))
        return;
    check_defaults(cfg, "new config");

    const char *names[] = {"prt-a", "prt-b"}, *ide[] = {"prt-ide"}, *files[] = {"/prt/x.pid"};
    const char *socks[] = {"prt-s", "/tmp/prt-s"}, *leak[] = {"PRT_LEAK_X=1", "PRT_LEAK_Y"};
    int32_t pids[] = {7, 8, 9};
    uint32_t uids[] = {0, 65534};
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_agent_names(cfg, names, 2, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_argv0_match(cfg, PROCREAP_ARGV0_MATCH_ALWAYS, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_min_age_ms(cfg, 1234, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_grace_ms(cfg, 4321, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_workspace_marker(cfg, "", &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_workspace_root(cfg, "/prt/root", &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_ide_markers(cfg, ide, 1, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pid_files(cfg, files, 1, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pids(cfg, pids, 3, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_tmux_sockets(cfg, socks, 2, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_all_users(cfg, true, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_users(cfg, uids, 2, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_kill_tree(cfg, true, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_state_dir(cfg, "/prt/state", &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_dry_run(cfg, true, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_subprocess_timeout_ms(cfg, 77, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_lock_timeout_ms(cfg, 88, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_backend(cfg, PROCREAP_BACKEND_PS, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_require_pidfd(cfg, true, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_audit(cfg, false, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_audit_max_bytes(cfg, 8192, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_leak_markers(cfg, leak, 2, &err));

    /* Refused values change nothing. */
    const char *bad_leak[] = {"=1"}, *nul_leak[] = {NULL};
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_leak_markers(cfg, bad_leak, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_leak_markers(cfg, nul_leak, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_leak_markers(cfg, NULL, 1, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_audit_max_bytes(cfg, 4095, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_argv0_match(cfg, 3, &err));
    EXPECT(PROCREAP_STATUS_INVALID_ARGUMENT, procreap_config_set_argv0_match(cfg, UINT32_MAX, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_users(cfg, NULL, 2, &err));

    procreap_config *copy = procreap_config_clone(cfg);
    CHECK(copy != NULL, "config_clone");
    const procreap_config *both[] = {cfg, copy};
    for (int i = 0; i < 2 && copy; i++) {
        const procreap_config *c = both[i];
        const char *what = i ? "clone" : "config";
        procreap_string_list *l = NULL;
        char *s = NULL;
        EXPECT(PROCREAP_STATUS_OK, procreap_config_get_agent_names(c, &l, &err));
        CHECK(list_eq(l, names, 2), "%s: agent_names", what);
        CHECK(procreap_config_get_argv0_match(c) == PROCREAP_ARGV0_MATCH_ALWAYS, "%s", what);
        CHECK(procreap_config_get_min_age_ms(c) == 1234, "%s", what);
        CHECK(procreap_config_get_grace_ms(c) == 4321, "%s", what);
        EXPECT(PROCREAP_STATUS_OK, procreap_config_get_workspace_marker(c, &s, &err));
        CHECK(str_eq(s, ""), "%s: workspace_marker", what);
        EXPECT(PROCREAP_STATUS_OK, procreap_config_get_workspace_root(c, &s, &err));
        CHECK(str_eq(s, "/prt/root"), "%s: workspace_root", what);
        EXPECT(PROCREAP_STATUS_OK, procreap_config_get_ide_markers(c, &l, &err));
        CHECK(list_eq(l, ide, 1), "%s: ide_markers", what);
        EXPECT(PROCREAP_STATUS_OK, procreap_config_get_protected_pid_files(c, &l, &err));
        CHECK(list_eq(l, files, 1), "%s: protected_pid_files", what);
        int32_t pbuf[2] = {0, 0};
        size_t len = 0;
        /* A short buffer gets what fits, and the full count. */
        EXPECT(PROCREAP_STATUS_OK, procreap_config_get_protected_pids(c, pbuf, 2, &len, &err));
        CHECK(len == 3 && pbuf[0] == 7 && pbuf[1] == 8, "%s: protected_pids %zu", what, len);
        EXPECT(PROCREAP_STATUS_OK, procreap_config_get_tmux_sockets(c, &l, &err));
        CHECK(list_eq(l, socks, 2), "%s: tmux_sockets", what);
        CHECK(procreap_config_get_all_users(c), "%s: all_users", what);
        uint32_t ubuf[4] = {1, 1, 1, 1};
        EXPECT(PROCREAP_STATUS_OK, procreap_config_get_users(c, ubuf, 4, &len, &err));
        CHECK(len == 2 && ubuf[0] == 0 && ubuf[1] == 65534 && ubuf[2] == 1, "%s: users", what);
        CHECK(procreap_config_get_kill_tree(c), "%s: kill_tree", what);
        EXPECT(PROCREAP_STATUS_OK, procreap_config_get_state_dir(c, &s, &err));
        CHECK(str_eq(s, "/prt/state"), "%s: state_dir", what);
        EXPECT(PROCREAP_STATUS_OK, procreap_config_resolved_state_dir(c, &s, &err));
        CHECK(str_eq(s, "/prt/state"), "%s: resolved_state_dir", what);
        CHECK(procreap_config_get_dry_run(c), "%s: dry_run", what);
        CHECK(procreap_config_get_subprocess_timeout_ms(c) == 77, "%s", what);
        CHECK(procreap_config_get_lock_timeout_ms(c) == 88, "%s", what);
        CHECK(procreap_config_get_backend(c) == PROCREAP_BACKEND_PS, "%s: backend", what);
        CHECK(procreap_config_get_require_pidfd(c), "%s: require_pidfd", what);
        CHECK(!procreap_config_get_audit(c), "%s: audit", what);
        CHECK(procreap_config_get_audit_max_bytes(c) == 8192, "%s: audit_max_bytes", what);
        EXPECT(PROCREAP_STATUS_OK, procreap_config_get_leak_markers(c, &l, &err));
        CHECK(list_eq(l, leak, 2), "%s: leak_markers", what);
    }
    /* The clone is a copy: changing one leaves the other. */
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_min_age_ms(cfg, 5, &err));
    CHECK(copy && procreap_config_get_min_age_ms(copy) == 1234, "clone is independent");
    /* Empty lists restore users, and NULL restores the state dir. */
    size_t len = 9;
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_users(cfg, NULL, 0, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_config_get_users(cfg, NULL, 0, &len, &err));
    CHECK(len == 0, "users cleared");

    /* NULL out-parameters of the getters. */
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_get_agent_names(cfg, NULL, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_get_workspace_marker(cfg, NULL, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_get_workspace_root(cfg, NULL, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_get_ide_markers(cfg, NULL, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_get_protected_pid_files(cfg, NULL, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_get_protected_pids(cfg, NULL, 0, NULL, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_get_protected_pids(cfg, NULL, 3, &len, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_get_tmux_sockets(cfg, NULL, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_get_users(cfg, NULL, 0, NULL, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_get_users(cfg, NULL, 2, &len, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_get_state_dir(cfg, NULL, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_resolved_state_dir(cfg, NULL, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_get_leak_markers(cfg, NULL, &err));
    /* And the setters new this round, on a NULL configuration. */
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_users(NULL, uids, 1, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_require_pidfd(NULL, true, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_audit(NULL, true, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_audit_max_bytes(NULL, 8192, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_config_set_leak_markers(NULL, leak, 1, &err));

    procreap_string_list_free(NULL);
    procreap_string_free(NULL);
    procreap_config_free(copy);
    procreap_config_free(cfg);
    procreap_config *c2 = procreap_config_clone(NULL);
    CHECK(c2 != NULL, "config_clone(NULL) copies the defaults");
    if (c2)
        check_defaults(c2, "clone of NULL");
    procreap_config_free(c2);
}

/* ------------------------------------------------------------------ scan object */

static void test_scan_object(const procreap_config *priv)
{
    procreap_scan *scan = NULL;
    procreap_process_list *pl = NULL;
    procreap_verdict_list *vl = NULL;
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_scan_new(priv, NULL, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_scan_orphans(NULL, &pl, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_scan_zombies(NULL, &pl, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_scan_leaked(NULL, &pl, &err));
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_scan_explain(NULL, &vl, &err));
    CHECK(pl == NULL && vl == NULL, "out untouched on failure");
    procreap_scan_free(NULL);

    const procreap_config *cfgs[] = {NULL, priv};
    for (int i = 0; i < 2; i++) {
        EXPECT(PROCREAP_STATUS_OK, procreap_scan_new(cfgs[i], &scan, &err));
        if (!CHECK(scan != NULL, "scan_new"))
            continue;
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_scan_orphans(scan, NULL, &err));
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_scan_zombies(scan, NULL, &err));
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_scan_leaked(scan, NULL, &err));
        EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_scan_explain(scan, NULL, &err));
        /* Asked twice, the same answer (one snapshot). */
        for (int round = 0; round < 2; round++) {
            EXPECT(PROCREAP_STATUS_OK, procreap_scan_orphans(scan, &pl, &err));
            CHECK(pl && (pl->len == 0) == (pl->items == NULL), "scan_orphans list");
            if (i == 1)
                CHECK(pl && pl->len == 0, "nothing carries the private name");
            procreap_process_list_free(pl);
            pl = NULL;
            EXPECT(PROCREAP_STATUS_OK, procreap_scan_leaked(scan, &pl, &err));
            CHECK(pl != NULL, "scan_leaked list");
            procreap_process_list_free(pl);
            pl = NULL;
            EXPECT(PROCREAP_STATUS_OK, procreap_scan_explain(scan, &vl, &err));
            CHECK(vl && (i == 0 || vl->len == 0), "scan_explain list");
            for (size_t k = 0; vl && k < vl->len; k++)
                CHECK(procreap_verdict_kind_str(vl->items[k].verdict) != NULL &&
                          vl->items[k].reason && vl->items[k].process.name,
                      "verdict %zu is complete", k);
            procreap_verdict_list_free(vl);
            vl = NULL;
            procreap_error *err = NULL;
            procreap_status st = procreap_scan_zombies(scan, &pl, &err);
            CHECK(st == PROCREAP_STATUS_OK || st == PROCREAP_STATUS_TMUX_UNAVAILABLE,
                  "scan_zombies: %s", procreap_status_str(st));
            expect_at(__FILE__, __LINE__, "procreap_scan_zombies", st, st, err);
            procreap_process_list_free(pl);
            pl = NULL;
        }
        procreap_scan_free(scan);
        scan = NULL;
    }
    /* One-shot find_leaked, like the others. */
    EXPECT(PROCREAP_STATUS_NULL_PARAMETER, procreap_find_leaked(priv, NULL, &err));
    EXPECT(PROCREAP_STATUS_OK, procreap_find_leaked(priv, &pl, &err));
    CHECK(pl && pl->len == 0, "find_leaked with private markers finds nothing");
    procreap_process_list_free(pl);
}

/* ------------------------------------------------------------------ what the header promises */

/* `*err` is left untouched on success: a sentinel survives every kind of call. */
static void test_err_untouched_on_success(const procreap_config *priv)
{
    static procreap_error *const sentinel = (procreap_error *)(uintptr_t)0x5a5a5a5a;
    procreap_error *err = sentinel;
    procreap_process_list *pl = NULL;
    procreap_scan *scan = NULL;
    procreap_config *cfg = procreap_config_new();
    char *s = NULL;
    CHECK(procreap_config_set_min_age_ms(cfg, 1, &err) == PROCREAP_STATUS_OK && err == sentinel,
          "setter");
    CHECK(procreap_config_get_workspace_marker(cfg, &s, &err) == PROCREAP_STATUS_OK &&
              err == sentinel,
          "getter");
    procreap_string_free(s);
    CHECK(procreap_find_orphans(priv, &pl, &err) == PROCREAP_STATUS_OK && err == sentinel, "find");
    procreap_process_list_free(pl);
    CHECK(procreap_scan_new(priv, &scan, &err) == PROCREAP_STATUS_OK && err == sentinel,
          "scan_new");
    pl = NULL;
    CHECK(procreap_scan_orphans(scan, &pl, &err) == PROCREAP_STATUS_OK && err == sentinel,
          "scan_orphans");
    procreap_process_list_free(pl);
    procreap_scan_free(scan);
    procreap_action_list *al = NULL;
    CHECK(procreap_reap_now(priv, NULL, 0, 0, &al, &err) == PROCREAP_STATUS_OK && err == sentinel,
          "reap_now with nothing to do");
    procreap_action_list_free(al);
    procreap_config_free(cfg);
}

/* A host that ignores SIGCHLD: the kernel reaps tmux before the library
 * can wait for it, so a configured socket's query fails (never "no panes"). */
static void test_sigchld_ignored(void)
{
    char sock[32];
    snprintf(sock, sizeof sock, "%s-sock", g_unused);
    const char *socks[] = {sock};
    procreap_config *cfg = private_config(g_unused, NULL);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_tmux_sockets(cfg, socks, 1, &err));
    procreap_process_list *pl = NULL;
    /* Without a server on that socket, the query answers "none". */
    EXPECT(PROCREAP_STATUS_OK, procreap_find_orphans(cfg, &pl, &err));
    procreap_process_list_free(pl);
    pl = NULL;
    struct sigaction ign, old;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGCHLD, &ign, &old);
    EXPECT(PROCREAP_STATUS_TMUX_FAILED, procreap_find_orphans(cfg, &pl, &err));
    sigaction(SIGCHLD, &old, NULL);
    CHECK(pl == NULL, "no list");
    procreap_config_free(cfg);
}

/* COMMAND_FAILED: the portable backend cannot start `ps`. */
static void test_command_failed(void)
{
    procreap_config *cfg = private_config(g_unused, NULL);
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_backend(cfg, PROCREAP_BACKEND_PS, &err));
    char *path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    setenv("PATH", "/nonexistent-prt", 1);
    procreap_process_list *pl = NULL;
    EXPECT(PROCREAP_STATUS_COMMAND_FAILED, procreap_find_orphans(cfg, &pl, &err));
    if (path) {
        setenv("PATH", path, 1);
        free(path);
    } else {
        unsetenv("PATH");
    }
    CHECK(pl == NULL, "no list");
    procreap_config_free(cfg);
}

/* IO: a protected pid file that is a directory cannot be read. */
static void test_io_status(void)
{
    procreap_config *cfg = private_config(g_unused, NULL);
    const char *files[] = {g_tmp};
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_protected_pid_files(cfg, files, 1, &err));
    procreap_process_list *pl = NULL;
    EXPECT(PROCREAP_STATUS_IO, procreap_find_orphans(cfg, &pl, &err));
    procreap_scan *scan = NULL;
    EXPECT(PROCREAP_STATUS_IO, procreap_scan_new(cfg, &scan, &err));
    CHECK(pl == NULL && scan == NULL, "no result");
    procreap_config_free(cfg);
}

/* ------------------------------------------------------------------ main */

int main(void)
{
    test_static_functions();
    test_names();
    test_setters_null_config();
    test_setters_bad_values();
    test_getters();
    if (!harness_setup("abi_contract", 120))
        return 1;
    char state[PATH_MAX];
    path_in(state, "state");
    procreap_config *cfg = private_config(g_unused, state);
    if (!CHECK(cfg != NULL, "private config"))
        return 1;
    test_calls_null_params(cfg);
    test_default_scans();
    test_scan_object(cfg);
    test_err_untouched_on_success(cfg);
    test_sigchld_ignored();
    test_command_failed();
    test_io_status();
    test_state_errors();
    procreap_config_free(cfg);
    return harness_finish("abi_contract");
}
