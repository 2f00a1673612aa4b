/*
 * smoke.c — a short behaviour check through the C ABI, with real decoys:
 * the scan object finds two private agents (with the fields this round
 * added: uid, rss_bytes), explain calls them orphans, a dry-run step
 * decides without sending, a step SIGTERMs (delivery and dry_run set), a
 * reap set and a reap now finish the job; an agent's marker child is kept
 * while the agent lives and leaked once it dies, then escalated to SIGKILL
 * (with the report's next_due_ms). The engine's rules themselves
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

/* An agent (it leads its own process group) starts two children in its
 * group: one with the private leak marker that ignores SIGTERM, one
 * without. While it lives neither is leaked; once it is killed the marker
 * child is, and a leaked step escalates it; the other is never touched. */
static void test_leaked(const procreap_config *base)
{
    char marker[40], mcp[24], plain[24], agent_path[PATH_MAX], mcp_path[PATH_MAX],
        plain_path[PATH_MAX], script[4 * PATH_MAX];
    leak_marker_of(marker, g_name);
    snprintf(mcp, sizeof mcp, "mcp-%s", g_name + 4);
    snprintf(plain, sizeof plain, "pln-%s", g_name + 4);
    path_in(agent_path, g_name);
    path_in(mcp_path, mcp);
    path_in(plain_path, plain);
    snprintf(script, sizeof script,
             "#!/bin/sh\n(trap '' TERM; exec env '%s' '%s' 600) &\n'%s' 600 &\nwait\n", marker,
             mcp_path, plain_path);
    if (!CHECK(symlink(g_sleep_bin, mcp_path) == 0 && symlink(g_sleep_bin, plain_path) == 0 &&
                   write_text(agent_path, script, 0700),
               "leaked decoys"))
        return;
    decoy *agent = spawn(agent_path, NULL, g_name, 0), *m = NULL, *p = NULL;
    for (long end = now_ms() + 5000; agent && (!m || !p) && now_ms() < end; msleep(5)) {
        pid_t mp = child_named(agent->pid, mcp), pp = child_named(agent->pid, plain);
        if (!m && mp && execed(mp, mcp) && ignores_term(mp))
            m = adopt(mp, agent->pid, mcp);
        if (!p && pp && execed(pp, plain))
            p = adopt(pp, agent->pid, plain);
    }
    if (!CHECK(agent && m && p, "an agent with two children"))
        return;
    procreap_verdict_list *vl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_explain(base, &vl, &err));
    const procreap_verdict *v = verdict_for(vl, m->pid);
    CHECK(v && v->verdict == PROCREAP_VERDICT_KIND_LEADER_ALIVE && verdict_for(vl, p->pid) == NULL,
          "while the agent lives: leader-alive; no verdict without the marker");
    procreap_verdict_list_free(vl);

    kill_decoy(agent);
    procreap_process_list *pl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_find_leaked(base, &pl, &err));
    CHECK(list_is(pl, &m, 1) && (g_escape || pl->items[0].ppid == getpid()),
          "the marker child is leaked, handed to us (a subreaper)");
    procreap_process_list_free(pl);
    vl = NULL;
    EXPECT(PROCREAP_STATUS_OK, procreap_explain(base, &vl, &err));
    v = verdict_for(vl, m->pid);
    CHECK(v && v->verdict == PROCREAP_VERDICT_KIND_LEAKED && strstr(v->reason, marker) &&
              strstr(v->reason, "is gone"),
          "explain: leaked, %s", v ? v->reason : "(none)");
    procreap_verdict_list_free(vl);

    procreap_config *cfg = procreap_config_clone(base);
    const long grace = 300;
    EXPECT(PROCREAP_STATUS_OK, procreap_config_set_grace_ms(cfg, (uint64_t)grace, &err));
    long t0 = now_ms();
    procreap_action_list *al = STEP_OK(cfg, PROCREAP_KIND_LEAKED);
    long t1 = now_ms();
    bool other = false; /* (the ledger also reports the earlier decoys as exited) */
    for (size_t i = 0; al && i < al->len; i++)
        other = other || al->items[i].process.pid == p->pid;
    CHECK_AL(al, action_for(al, m->pid, PROCREAP_ACTION_KIND_SIGTERM) && !other,
             "leaked step: SIGTERM to the marker child only");
    CHECK_AL(al, al && al->next_due_ms <= grace && al->next_due_ms >= grace - (t1 - t0) - 100,
             "next_due_ms %lld: the grace left", al ? (long long)al->next_due_ms : 0LL);
    procreap_action_list_free(al);
    msleep(grace + 100);
    al = STEP_OK(cfg, PROCREAP_KIND_LEAKED);
    CHECK_AL(al, action_for(al, m->pid, PROCREAP_ACTION_KIND_SIGKILL) != NULL, "then SIGKILL");
    procreap_action_list_free(al);
    CHECK(wait_decoy(m, 5000), "SIGKILL ended it");
    al = STEP_OK(cfg, PROCREAP_KIND_LEAKED);
    CHECK_AL(al, action_for(al, m->pid, PROCREAP_ACTION_KIND_EXITED) && al->next_due_ms == -1,
             "exited; nothing pending");
    procreap_action_list_free(al);
    procreap_config_free(cfg);

    CHECK(alive(p), "the child without the marker is untouched");
    kill_decoy(p);
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
        test_leaked(cfg);
    }
    procreap_config_free(cfg);
    return harness_finish("smoke");
}
