/* cmd_jobs.c: `dzong jobs list` shows the schedule; `dzong jobs run` runs what is due now. */
#include "cli/cli.h"
#include "jobs/fetch.h"
#include "jobs/scheduler.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_jobs(const dz_config *cfg, int argc, char **argv)
{
    bool list = argc == 2 && strcmp(argv[1], "list") == 0, run = argc == 2 && strcmp(argv[1], "run") == 0;
    if (!list && !run) {
        bool help = argc >= 2 && strcmp(argv[1], "--help") == 0;
        fputs("usage: dzong jobs list | run\n"
              "list: every scheduled job with its interval, next run, last run, node and error.\n"
              "run: claims and runs the jobs due now (as `dzong serve` does every 5 seconds).\n",
              help ? stdout : stderr);
        return help ? 0 : 2;
    }
    store *st;
    dz_err e = {0};
    if (cli_open_store(cfg, true, &st, &e) != DZ_OK)
        return cli_fail(&e);
    int ret = 0;
    if (list) {
        json_t *items;
        if (store_job_list(st, &items, &e) != DZ_OK) {
            ret = cli_fail(&e);
        } else {
            char *s = json_dumps(items, JSON_INDENT(2));
            puts(s ? s : "[]");
            free(s);
            json_decref(items);
        }
    } else {
        char node[96], host[64] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(node, sizeof node, "%s:cli/%d", host, (int)getpid());
        /* the downloads of dzong.conf, so a due fetch.* round runs here as it would in serve */
        cli_feed_inputs *fi = NULL;
        notifier *nt = NULL; /* and the digests: notify.digest queues them (sending is `dzong notify run`) */
        if (cli_feed_inputs_load(cfg, &fi, &e) != DZ_OK || cli_notifier_open(cfg, &nt, &e) != DZ_OK ||
            fetch_configure(&fi->fetch, &e) != DZ_OK) {
            ret = cli_fail(&e);
        } else {
            scheduler_set_notifier(nt, NULL);
            int n = scheduler_run_due(st, node);
            printf("%d job%s run\n", n, n == 1 ? "" : "s");
            scheduler_set_notifier(NULL, NULL);
            fetch_unconfigure();
        }
        notifier_close(nt);
        cli_feed_inputs_free(fi);
    }
    store_close(st);
    return ret;
}
