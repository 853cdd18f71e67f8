-- A pipeline loaded with LoadFile: helpers.lua sits next to it.
local ci = require("quire.ci")
local helpers = require("helpers")

ci.image("golang:1.26")
helpers.go_job("test")
ci.job("build", {"test"}, function(q) return helpers.describe("build") end)
