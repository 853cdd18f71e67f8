-- A realistic pipeline for a Go module: vet and test on every push,
-- race tests and a release build on main and tags only.
local ci = require("quire.ci")

ci.image("golang:1.26") -- used only by the docker executor

ci.job("lint", {"quire/push"}, function(q)
  q.sh("test -z \"$(gofmt -l .)\" || { gofmt -l .; exit 1; }", {check = true})
  q.sh({"go", "vet", "./..."}, {check = true})
end)

ci.job("test", {"quire/push"}, function(q)
  local r = q.sh({"go", "test", "-count=1", "-cover", "./..."}, {timeout = 900})
  if r.exit ~= 0 then error("go test failed with exit " .. r.exit) end
  return {coverage = r.stdout:match("coverage: (%S+)")}
end)

ci.job("race", {"test"}, function(q)
  local push = q.jobs("quire/push")
  if push.branch ~= "main" and not push.tag then return nil end
  q.sh({"go", "test", "-race", "-count=1", "./..."}, {check = true, timeout = 1800})
end)

ci.job("release", {"lint", "race"}, function(q)
  local push = q.jobs("quire/push")
  if not push.tag then return nil end
  local out = "dist/app-" .. push.tag
  q.sh({"go", "build", "-trimpath", "-o", out, "."}, {check = true, env = {CGO_ENABLED = "0"}})
  return {artifact = out}
end)
