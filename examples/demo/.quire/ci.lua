-- The demo pipeline: test a tiny Go program, build it, run it, and
-- report what happened. Jobs register here; quire-hook runs them.
local ci = require("quire.ci")

ci.job("test", {"quire/push"}, function(q)
  local push = q.jobs("quire/push")
  q.log("testing " .. push.sha:sub(1, 10) .. " on " .. (push.branch or push.ref))
  -- The demo project is two loose files (no go.mod), so name them.
  q.sh({"go", "vet", "hello.go", "hello_test.go"}, {check = true})
  local r = q.sh({"go", "test", "-count=1", "-cover", "hello.go", "hello_test.go"}, {env = {CGO_ENABLED = "0"}})
  if r.exit ~= 0 then error("go test failed") end
  return {coverage = r.stdout:match("coverage: (%S+)") or "unknown"}
end)

ci.job("build", {"test"}, function(q)
  q.sh({"go", "build", "-o", "bin/hello", "hello.go"}, {check = true, env = {CGO_ENABLED = "0"}})
  local r = q.sh("./bin/hello quire", {check = true})
  return {greeting = r.stdout:gsub("%s+$", "")}
end)

ci.job("report", {"test", "build"}, function(q)
  local test, build = q.jobs("test"), q.jobs("build")
  print("coverage: " .. test.coverage .. ", the binary says: " .. build.greeting)
  return {summary = build.greeting .. " (coverage " .. test.coverage .. ")"}
end)
