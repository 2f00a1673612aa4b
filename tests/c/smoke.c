/*
 * smoke.c — a short behaviour check through the C ABI, with real decoys:
 * the scan object finds two private agents (with the fields this round
 * added: uid, rss_bytes), explain calls them orphans, a dry-run step
 * decides without sending, a step SIGTERMs (delivery and dry_run set), a
 * reap set and a reap now finish the job. The engine's rules themselves
 * (verdicts, escalation, ledger) are tested by the Rust suites; this only
 * shows that their results cross the boundary intact.
 */
#include "harness.h"

static void check_process_fields(const procreap_process *p, const decoy *d)
{
    CHECK(p->pid == d->pid, "pid");
    CHECK(p->start_time != 0, "start time");
    CHECK(!d->child || p->ppid == getpid(), "ppid %d", (int)p->ppid);
    CHECK(p->name && strcmp(p->name, g_name) == 0, "name %s", p->name ? p->name : "(null)");
    CHECK(p->age_secs >= 0.0 && p->age_secs < 600.0, "age %f", p->age_secs);
    CHECK(p->tty == NULL, "no tty: %s", p->tty ? p->tty : "");
    CHECK(p->state == 'S' || p->state == 'R', "state %c", p->state);
    CHECK(p->workspace_root == NULL, "no workspace (marker \"\")");
    CHECK(p->cmdline && strstr(p->cmdline, g_name), "cmdline %s", p->cmdline ? p->cmdline : "");
    CHECK(p->uid == (uint32_t)getuid(), "uid %u", (unsigned)p->uid);
    /* A sleeping `sleep` or `sh` holds some hundreds of KiB at least. */
    CHECK(p->rss_bytes >= 64 * 1024 && p->rss_bytes < (1ull << 32), "rss %llu",
          (unsigned long long)p->rss_bytes);
}

static void test_scan(const procreap_config *cfg, decoy *d, decoy *s)
{
    decoy *both[] = {d, s};
    procreap_scan *scan = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_scan_new(cfg, &scan, &err));
    procreap_process_list *pl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_scan_orphans(scan, &pl, &err));
    CHECK(list_is(pl, both, 2), "the scan finds exactly the 2 decoys (%zu)", pl ? pl->len : 0);
    for (size_t i = 0; pl && i < pl->len; i++)
        check_process_fields(&pl->items[i], pl->items[i].pid == d->pid ? d : s);
    procreap_process_list_free(pl);
    procreap_verdict_list *vl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_scan_explain(scan, &vl, &err));
    const procreap_verdict *v = verdict_for(vl, d->pid);
    CHECK(vl && vl->len == 2 && v && v->verdict == PROCREAP_VERDICT_KIND_ORPHAN && v->reason &&
              strstr(v->reason, "no terminal"),
          "explain: orphan, with the reason");
    procreap_verdict_list_free(vl);
    pl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_scan_leaked(scan, &pl, &err));
    CHECK(pl && pl->len == 0, "no leaked process carries the private marker");
    procreap_process_list_free(pl);
    procreap_scan_free(scan);
}

static void test_steps(procreap_config *cfg, decoy *d, decoy *s)
{
    /* A dry run decides, says so on each action, sends nothing. */
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_dry_run(cfg, true, &err));
    procreap_action_list *al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
    const procreap_action *a = action_for(al, d->pid, PROCREAP_ACTION_KIND_SIGTERM);
    CHECK_AL(al, al && al->len == 2 && a && a->dry_run && a->delivery == PROCREAP_DELIVERY_NONE &&
                     a->signal == PROCREAP_SIGNAL_SIGTERM,
             "dry run: SIGTERM decided, not delivered");
    CHECK_AL(al, al && al->reclaimed_bytes == 0 && al->next_due_ms >= -1, "report fields");
    procreap_action_list_free(al);
    CHECK(alive(d) && alive(s), "a dry run sends nothing");
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_dry_run(cfg, false, &err));

    /* One step: SIGTERM to both, through a pidfd (or kill(2) where refused). */
    al = STEP_OK(cfg, PROCREAP_KIND_ORPHANS);
    a = action_for(al, d->pid, PROCREAP_ACTION_KIND_SIGTERM);
    CHECK_AL(al, a && !a->dry_run &&
                     (a->delivery == PROCREAP_DELIVERY_PIDFD || a->delivery == PROCREAP_DELIVERY_KILL),
             "step: SIGTERM delivered");
    CHECK_AL(al, action_for(al, s->pid, PROCREAP_ACTION_KIND_SIGTERM) != NULL, "step: SIGTERM");
    procreap_action_list_free(al);
    CHECK(exited_by(d, SIGTERM), "the sleeper died of SIGTERM");
    CHECK(alive(s), "the script ignores SIGTERM");
}

static void test_reap_now(procreap_config *cfg, decoy *s)
{
    /* The script ignored the step's SIGTERM: reap now ends it. */
    procreap_identity id = identify(cfg, s->pid);
    procreap_action_list *al = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_reap_now(cfg, &id, 1, 500, &al, &err));
    const procreap_action *k = action_for(al, s->pid, PROCREAP_ACTION_KIND_SIGKILL);
    CHECK_AL(al, k && k->signal == PROCREAP_SIGNAL_SIGKILL && k->delivery != PROCREAP_DELIVERY_NONE,
             "reap_now: SIGKILL after its deadline");
    CHECK_AL(al, action_for(al, s->pid, PROCREAP_ACTION_KIND_EXITED) != NULL, "reap_now: exited");
    procreap_action_list_free(al);
    CHECK(exited_by(s, SIGKILL), "the script died of SIGKILL");
}

static void test_reap_set(procreap_config *cfg)
{
    decoy *d = spawn_sleep(0), *other = spawn_sleep(0);
    if (!CHECK(d && other, "spawn reap_set decoys"))
        return;
    procreap_identity id = identify(cfg, d->pid);
    procreap_action_list *al = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_reap_set(cfg, &id, 1, &al, &err));
    CHECK_AL(al, al && al->len == 1 && action_for(al, d->pid, PROCREAP_ACTION_KIND_SIGTERM),
             "reap_set: SIGTERM to the approved decoy only");
    procreap_action_list_free(al);
    CHECK(exited_by(d, SIGTERM), "approved decoy died of SIGTERM");
    CHECK(alive(other), "the other decoy is untouched");
    kill_decoy(other);
}

int main(void)
{
    if (!harness_setup("smoke", 120))
        return 1;
    char state[PATH_MAX];
    path_in(state, "state");
    procreap_config *cfg = private_config(g_name, state);
    decoy *d = spawn_sleep(0), *s = spawn_script();
    if (CHECK(cfg && d && s, "config and decoys")) {
        test_scan(cfg, d, s);
        test_steps(cfg, d, s);
        test_reap_now(cfg, s);
        test_reap_set(cfg);
    }
    procreap_config_free(cfg);
    return harness_finish("smoke");
}
