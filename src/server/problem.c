/* Responses: JSON documents and RFC 9457 problem details. */
#include "server/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void respond_bytes(http_request *req, unsigned status, const char *content_type, const char *data, size_t len)
{
    free(req->resp_body);
    req->resp_body = malloc(len + 1);
    if (req->resp_body) {
        memcpy(req->resp_body, data, len);
        req->resp_body[len] = '\0';
    }
    req->resp_len = req->resp_body ? len : 0;
    req->status = status;
    req->content_type = content_type;
    req->responded = true;
}

void respond_json(http_request *req, unsigned status, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text) {
        respond_problem(req, 500, "Internal Server Error", "could not serialise the response");
        return;
    }
    free(req->resp_body);
    req->resp_body = text;
    req->resp_len = strlen(text);
    req->status = status;
    req->content_type = "application/json";
    req->responded = true;
}

static const char *status_title(unsigned status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

void respond_problem(http_request *req, unsigned status, const char *title, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_t *doc = json_object();
    json_object_set_new(doc, "type", json_string("about:blank"));
    json_object_set_new(doc, "title", json_string(title ? title : status_title(status)));
    json_object_set_new(doc, "status", json_integer(status));
    json_object_set_new(doc, "detail", json_string(detail));
    json_object_set_new(doc, "instance", json_string(req->path ? req->path : "/"));
    json_object_set_new(doc, "request_id", json_string(req->request_id));
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    free(req->resp_body);
    req->resp_body = text;
    req->resp_len = text ? strlen(text) : 0;
    req->status = status;
    req->content_type = "application/problem+json";
    req->responded = true;
}

void respond_error(http_request *req, const dz_err *e)
{
    unsigned status;
    switch (e->code) {
    case DZ_EINVAL: status = 400; break;
    case DZ_ENOTFOUND: status = 404; break;
    case DZ_ECONFLICT: status = 409; break;
    case DZ_EUNAUTH: status = 401; break;
    case DZ_EFORBIDDEN: status = 403; break;
    case DZ_ELIMIT: status = 413; break;
    case DZ_EDB:
    case DZ_EIO:
        status = 503;
        break;
    default: status = 500; break;
    }
    if (status >= 500) /* never leak internals; the log has the request id */
        fprintf(stderr, "dzong: request %s %s failed: %s\n", req->request_id, req->path, e->msg);
    respond_problem(req, status, status_title(status), "%s",
                    status >= 500 ? "the server could not complete the request; see the server log for this "
                                    "request id" : e->msg);
}
