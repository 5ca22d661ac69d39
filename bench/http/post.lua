-- wrk script: one JSON POST per request (BODY and AUTH from the environment).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if os.getenv("AUTH") then wrk.headers["Authorization"] = "Bearer " .. os.getenv("AUTH") end
wrk.body = os.getenv("BODY")
done = dofile(os.getenv("BENCH_DIR") .. "/http/report.lua")
