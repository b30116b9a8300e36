-- wrk script: POST /api/v1/incidents with a JSON body and a bearer token.
-- Every 201 means the incident is committed to disk (SQLite synchronous=FULL,
-- group commit). Environment: DZONG_TOKEN (an API token of a handler).

-- report.lua sits next to this script.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

local token = os.getenv("DZONG_TOKEN")
if not token or token == "" then
    error("DZONG_TOKEN is not set")
end

wrk.method = "POST"
wrk.path = "/api/v1/incidents"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"Phishing campaign against a ministry",'
    .. '"description":"Reported by the mail gateway; 40 recipients, 3 clicked.",'
    .. '"classification":{"taxonomy":"fraud","type":"phishing"},'
    .. '"severity":"high","tlp":"AMBER","pap":"GREEN","tags":["bench","phishing"]}'
