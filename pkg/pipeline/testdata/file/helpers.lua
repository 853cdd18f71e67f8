local ci = require("quire.ci")
local M = {}

function M.go_job(id)
  ci.job(id, {"quire/push"}, function(q) return {id = id} end)
end

function M.describe(id)
  return {job = id}
end

return M
