/* cmd_user.c: `dzong user`, `dzong token`. */
#include "cli/cli.h"
#include "lib/credentials.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char user_usage[] =
    "usage: dzong user add NAME --role ROLE [--constituent ORG] --password-stdin\n"
    "       dzong user list\n"
    "       dzong user disable NAME | enable NAME\n"
    "       dzong user passwd NAME --password-stdin\n"
    "roles: admin, coordinator, handler, analyst, constituent (needs --constituent ORG),\n"
    "       partner (needs --constituent ORG: the partner CERT's organisation record)\n"
    "Passwords are read from the first line of standard input (at least 12 characters).\n";

/* Reads one line from stdin as the password. */
static dz_code read_password(char *buf, size_t n, dz_err *e)
{
    if (!fgets(buf, (int)n, stdin))
        return dz_fail(e, DZ_EINVAL, "no password on standard input");
    buf[strcspn(buf, "\r\n")] = '\0';
    if (strlen(buf) < 12)
        return dz_fail(e, DZ_EINVAL, "password must be at least 12 characters");
    return DZ_OK;
}

int cmd_user(const dz_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {
        {"role", required_argument, 0, 'r'}, {"constituent", required_argument, 0, 'c'},
        {"password-stdin", no_argument, 0, 'p'}, {"help", no_argument, 0, 'h'}, {0}};
    const char *role_s = NULL, *org = NULL;
    bool pw_stdin = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': role_s = optarg; break;
        case 'c': org = optarg; break;
        case 'p': pw_stdin = true; break;
        case 'h': fputs(user_usage, stdout); return 0;
        default: fputs(user_usage, stderr); return 2;
        }
    }
    const char *sub = optind < argc ? argv[optind] : NULL, *name = optind + 1 < argc ? argv[optind + 1] : NULL;
    if (!sub || (strcmp(sub, "list") != 0 && !name)) {
        fputs(user_usage, stderr);
        return 2;
    }
    store *st;
    dz_err e = {0};
    principal p;
    cli_principal(&p);
    if (cli_open_store(cfg, true, &st, &e) != DZ_OK)
        return cli_fail(&e);
    dz_code rc = DZ_OK;
    char pw[1100], hash[PASSWORD_HASH_LEN];
    if (strcmp(sub, "list") == 0) {
        json_t *items;
        if ((rc = store_user_list(st, &items, &e)) == DZ_OK)
            cli_print_json(items);
    } else if (strcmp(sub, "add") == 0) {
        role r;
        if (!role_s)
            rc = dz_fail(&e, DZ_EINVAL, "user add needs --role");
        else if (!pw_stdin)
            rc = dz_fail(&e, DZ_EINVAL, "user add needs --password-stdin (passwords never go on the command line)");
        if (rc == DZ_OK)
            rc = role_parse(role_s, &r, &e);
        if (rc == DZ_OK)
            rc = read_password(pw, sizeof pw, &e);
        if (rc == DZ_OK)
            rc = password_hash(pw, hash, &e);
        if (rc == DZ_OK && (rc = store_user_create(st, &p, name, r, org, hash, &e)) == DZ_OK)
            printf("created user '%s' (role %s%s%s)\n", name, role_name(r), org ? ", " : "", org ? org : "");
    } else if (strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0) {
        bool dis = strcmp(sub, "disable") == 0;
        if ((rc = store_user_set_disabled(st, &p, name, dis, &e)) == DZ_OK)
            printf("user '%s' %s\n", name, dis ? "disabled (sessions ended, tokens refused)" : "enabled");
    } else if (strcmp(sub, "passwd") == 0) {
        if (!pw_stdin)
            rc = dz_fail(&e, DZ_EINVAL, "user passwd needs --password-stdin");
        if (rc == DZ_OK)
            rc = read_password(pw, sizeof pw, &e);
        if (rc == DZ_OK)
            rc = password_hash(pw, hash, &e);
        if (rc == DZ_OK && (rc = store_user_set_password(st, name, hash, &e)) == DZ_OK)
            printf("password of '%s' changed\n", name);
    } else {
        rc = dz_fail(&e, DZ_EINVAL, "unknown subcommand 'user %s' (add, list, disable, enable, passwd)", sub);
    }
    store_close(st);
    return rc == DZ_OK ? 0 : cli_fail(&e);
}

static const char token_usage[] =
    "usage: dzong token create USER [--label LABEL]\n"
    "Prints a new API token for USER, once. Use it as 'Authorization: Bearer TOKEN'.\n"
    "Only its BLAKE2b hash is stored.\n";

int cmd_token(const dz_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"label", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'}, {0}};
    const char *label = "cli";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': label = optarg; break;
        case 'h': fputs(token_usage, stdout); return 0;
        default: fputs(token_usage, stderr); return 2;
        }
    }
    if (argc - optind != 2 || strcmp(argv[optind], "create") != 0) {
        fputs(token_usage, stderr);
        return 2;
    }
    store *st;
    dz_err e = {0};
    principal p;
    cli_principal(&p);
    char tok[SECRET_TEXT_LEN], h[SECRET_HASH_HEX_LEN + 1];
    secret_generate(TOKEN_PREFIX, tok);
    secret_hash(tok, h);
    if (cli_open_store(cfg, true, &st, &e) != DZ_OK)
        return cli_fail(&e);
    dz_code rc = store_token_create(st, &p, argv[optind + 1], label, h, &e);
    store_close(st);
    if (rc != DZ_OK)
        return cli_fail(&e);
    puts(tok);
    return 0;
}
