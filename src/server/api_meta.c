/* api_meta.c: health, the OpenAPI document, and the web UI's static files (all compiled in). */
#include "server/api.h"
#include "lib/embedded.h"

#include <string.h>

extern const struct embedded_file assets[];

void api_healthz(http_request *req)
{
    dz_err e = {0};
    int64_t n;
    if (store_user_count(req->srv->st, &n, &e) != DZ_OK) {
        respond_json(req, 503, json_pack("{s:s, s:s}", "status", "unavailable", "database", e.msg));
        return;
    }
    respond_json(req, 200, json_pack("{s:s, s:s}", "status", "ok", "database", "ok"));
}

void api_openapi(http_request *req)
{
    const struct embedded_file *f = embedded_find(assets, "openapi.json");
    respond_bytes(req, 200, "application/json", f->data, (size_t)f->len);
}

void api_web_asset(http_request *req)
{
    const char *name = req->params.n ? route_param(req, 0) : "index.html";
    const struct embedded_file *f = embedded_find(assets, name);
    const char *dot = strrchr(name, '.');
    if (!f || !dot || strcmp(name, "openapi.json") == 0) {
        respond_problem(req, 404, NULL, "no resource at %.200s", req->path);
        return;
    }
    const char *type = strcmp(dot, ".html") == 0 ? "text/html; charset=utf-8"
                       : strcmp(dot, ".js") == 0 ? "text/javascript; charset=utf-8"
                       : strcmp(dot, ".css") == 0 ? "text/css; charset=utf-8"
                                                  : "application/octet-stream";
    respond_bytes(req, 200, type, f->data, (size_t)f->len);
}
