-- wrk script: GET /healthz (no authentication; one small SQL query). Not a
-- target, a yardstick: what this machine gives with wrk and dzong's HTTP layer
-- sharing the cores, before any real work per request.

-- report.lua sits next to this script.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

wrk.path = "/healthz"
