-- Shared by the wrk scripts of bench/ (loaded with dofile): counts answers
-- that are not 2xx in every thread and prints one machine-readable line,
--   BENCH requests=N duration_us=N rps=X p50_us=N p90_us=N p99_us=N max_us=N non2xx=N socket_errors=N
-- that bench/incidents.sh reads. Latencies are wrk's, in microseconds.

local threads = {}
local thread_count = 0

function setup(thread)
    thread_count = thread_count + 1
    thread:set("thread_no", thread_count)
    table.insert(threads, thread)
end

non2xx = 0

function response(status, headers, body)
    if status < 200 or status > 299 then
        non2xx = non2xx + 1
    end
end

function done(summary, latency, requests)
    local bad = 0
    for _, t in ipairs(threads) do
        bad = bad + t:get("non2xx")
    end
    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d "
            .. "socket_errors=%d\n",
        summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, bad,
        e.connect + e.read + e.write + e.timeout))
end
