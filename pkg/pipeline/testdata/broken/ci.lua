local ci = require("quire.ci")
local helpers = require("helpers")
ci.job("test", {"quire/push"}, function() end)
