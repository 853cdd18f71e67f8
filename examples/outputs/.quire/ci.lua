-- Jobs hand data to each other through their return values, and shared
-- helpers live in .quire/ modules loaded with require.
local ci = require("quire.ci")
local version = require("lib.version")

ci.job("version", {"quire/push"}, function(q)
  local push = q.jobs("quire/push")
  return version.describe(push)
end)

ci.job("changes", {"quire/push"}, function(q)
  local push = q.jobs("quire/push")
  local docs_only = true
  for _, path in ipairs(push.files_changed) do
    if not path:match("^docs/") and not path:match("%.md$") then docs_only = false end
  end
  return {count = #push.files_changed, docs_only = docs_only}
end)

ci.job("package", {"version", "changes"}, function(q)
  local v, c = q.jobs("version"), q.jobs("changes")
  if c.docs_only then
    q.log("only documentation changed; nothing to package")
    return nil
  end
  q.write_file("VERSION", v.name .. "\n")
  q.sh("tar -czf package-" .. v.name .. ".tar.gz --exclude='package-*' .", {check = true})
  return {file = "package-" .. v.name .. ".tar.gz", version = v}
end)
