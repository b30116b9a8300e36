/* cmd_audit.c: `dzong audit verify` walks the hash chain; `dzong audit list` prints entries. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

int cmd_audit(const dz_config *cfg, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || (strcmp(argv[1], "verify") && strcmp(argv[1], "list"))) {
        fputs("usage: dzong audit verify | list [AFTER_SEQ]\n"
              "verify: recomputes the SHA-256 chain and reports the first altered or missing entry (exit 1).\n",
              argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    store *st;
    dz_err e = {0};
    if (cli_open_store(cfg, true, &st, &e) != DZ_OK)
        return cli_fail(&e);
    int ret = 0;
    if (strcmp(argv[1], "verify") == 0) {
        int64_t checked, bad;
        char why[256];
        if (store_audit_verify(st, &checked, &bad, why, sizeof why, &e) != DZ_OK) {
            ret = cli_fail(&e);
        } else if (bad) {
            printf("audit log BROKEN at entry %lld: %s (%lld entries before it verified)\n", (long long)bad, why,
                   (long long)checked);
            ret = 1;
        } else {
            printf("audit log intact: %lld entries verified\n", (long long)checked);
        }
    } else {
        json_t *items;
        long long after = argc > 2 ? atoll(argv[2]) : 0;
        if (store_audit_list(st, after, 1000, &items, &e) != DZ_OK) {
            ret = cli_fail(&e);
        } else {
            size_t i;
            json_t *it;
            json_array_foreach(items, i, it) {
                char *s = json_dumps(it, JSON_COMPACT);
                puts(s);
                free(s);
            }
            json_decref(items);
        }
    }
    store_close(st);
    return ret;
}
