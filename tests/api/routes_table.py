"""The routes of src/server/routes.c, as the suite knows them, and a parser to keep the two in step."""
import re

# (method, pattern, public)
ROUTES = [
    ("GET", "/healthz", True),
    ("GET", "/api/v1/openapi.json", True),
    ("GET", "/", True),
    ("GET", "/ui/{file}", True),
    ("POST", "/api/v1/session", True),
    ("GET", "/api/v1/session", False),
    ("DELETE", "/api/v1/session", False),
    ("POST", "/api/v1/tokens", False),
    ("GET", "/api/v1/incidents", False),
    ("POST", "/api/v1/incidents", False),
    ("GET", "/api/v1/incidents/{id}", False),
    ("PATCH", "/api/v1/incidents/{id}", False),
    ("POST", "/api/v1/incidents/{id}/merge", False),
    ("GET", "/api/v1/incidents/{id}/notes", False),
    ("POST", "/api/v1/incidents/{id}/notes", False),
    ("GET", "/api/v1/incidents/{id}/tasks", False),
    ("POST", "/api/v1/incidents/{id}/tasks", False),
    ("PATCH", "/api/v1/incidents/{id}/tasks/{task}", False),
    ("GET", "/api/v1/incidents/{id}/timeline", False),
    ("GET", "/api/v1/incidents/{id}/reports", False),
    ("POST", "/api/v1/incidents/{id}/reports", False),
    ("POST", "/api/v1/incidents/{id}/notify", False),
    ("GET", "/api/v1/taxonomy", False),
    ("GET", "/api/v1/reports", False),
    ("POST", "/api/v1/reports", False),
    ("GET", "/api/v1/reports/{id}", False),
    ("GET", "/api/v1/constituents", False),
    ("POST", "/api/v1/constituents", False),
    ("GET", "/api/v1/constituents/{name}", False),
    ("PUT", "/api/v1/constituents/{name}", False),
    ("PATCH", "/api/v1/constituents/{name}", False),
    ("DELETE", "/api/v1/constituents/{name}", False),
    ("GET", "/api/v1/lookup", False),
    ("GET", "/api/v1/users", False),
    ("POST", "/api/v1/users", False),
    ("PATCH", "/api/v1/users/{name}", False),
    ("GET", "/api/v1/audit", False),
    ("GET", "/api/v1/audit/verify", False),
    ("GET", "/api/v1/events", False),
    ("POST", "/api/v1/events", False),
    ("GET", "/api/v1/events/stats", False),
    ("GET", "/api/v1/events/{id}", False),
    ("GET", "/api/v1/ingests", False),
    ("GET", "/api/v1/ingests/{id}", False),
    ("GET", "/api/v1/ingests/{id}/quarantine", False),
    ("GET", "/api/v1/notifications", False),
    ("GET", "/api/v1/notifications/{ticket}", False),
    ("GET", "/api/v1/notifications/{ticket}/events", False),
    ("GET", "/api/v1/notifications/{ticket}/message", False),
    ("POST", "/api/v1/notifications/{ticket}/ack", False),
]

_ROUTE_LINE = re.compile(r'\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,\s*(\w+)\s*,\s*([^}]*?)\s*\}')


def parse_routes_c(text):
    """[(method, pattern, public)] from routes.c's api_routes[] initialiser."""
    out = []
    for m in _ROUTE_LINE.finditer(text):
        out.append((m.group(1), m.group(2), "ROUTE_PUBLIC" in m.group(4)))
    return out
