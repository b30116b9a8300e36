-- wrk script: GET /api/v1/incidents/{id} with a bearer token, cycling over a
-- set of incidents created beforehand. Environment: DZONG_TOKEN, DZONG_IDS (a
-- file with one public id per line).
-- The requests are formatted once in init(), so the client spends its time
-- sending, not building strings.

-- report.lua sits next to this script.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

local token = os.getenv("DZONG_TOKEN")
local ids_file = os.getenv("DZONG_IDS")
if not token or token == "" or not ids_file then
    error("DZONG_TOKEN and DZONG_IDS must be set")
end
wrk.headers["Authorization"] = "Bearer " .. token

local reqs = {}
local i = 0

function init(args)
    for id in io.lines(ids_file) do
        if id ~= "" then
            reqs[#reqs + 1] = wrk.format("GET", "/api/v1/incidents/" .. id)
        end
    end
    if #reqs == 0 then
        error("no ids in " .. ids_file)
    end
    i = ((thread_no or 1) * 7919) % #reqs -- threads start at different ids
end

function request()
    i = i % #reqs + 1
    return reqs[i]
end
