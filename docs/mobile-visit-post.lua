-- wrk script: one new visit per request to mobile:visit_api (see docs/mobile.md).
-- SESSION=<sessionid> CSRF=<csrftoken> HOUSEHOLDS=50 wrk -t2 -c32 -d15s --latency -s docs/mobile-visit-post.lua http://127.0.0.1:8765
-- The households 1..HOUSEHOLDS must be in the logged-in user's scope.
math.randomseed(os.time() + math.floor(os.clock() * 1e6))
local session, csrf = os.getenv("SESSION"), os.getenv("CSRF")
local households = tonumber(os.getenv("HOUSEHOLDS") or "50")
local function uuid()
  return (string.gsub("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", "[xy]", function (c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = "sessionid=" .. session .. "; csrftoken=" .. csrf
wrk.headers["X-CSRFToken"] = csrf
request = function ()
  local body = string.format('{"client_id":"%s","household":%d,"visited_at":"2026-11-25T10:00:00+08:00",'
    .. '"entered":true,"met_person":true,"explained":true,"signed":false,"fraud_types":[1],'
    .. '"left_brochure":true,"notes":"bench"}', uuid(), math.random(1, households))
  return wrk.format(nil, "/m/api/visits/", nil, body)
end
done = function (summary, latency, requests)
  io.write(string.format("requests=%d non2xx=%d p50=%.1fms p99=%.1fms\n", summary.requests,
    summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
