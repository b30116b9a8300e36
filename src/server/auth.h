/* auth: finds out who is calling (bearer token or session cookie) and checks CSRF. */
#ifndef DZ_AUTH_H
#define DZ_AUTH_H
#include "server/http.h"

#define SESSION_COOKIE "dzong_session"
#define CSRF_HEADER "X-CSRF-Token"

/* Sets req->who when the request carries valid credentials; answers 401/403 itself and returns false otherwise. */
bool auth_authenticate(http_request *req);

#endif
