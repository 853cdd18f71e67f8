-- Helpers shared by the pipeline: loaded with require("lib.version").
local M = {}

-- describe names a build after the pushed tag, else branch and short sha.
function M.describe(push)
  if push.tag then
    return {name = push.tag, release = true}
  end
  return {name = (push.branch or "detached") .. "-" .. push.sha:sub(1, 7), release = false}
end

return M
