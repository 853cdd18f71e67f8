package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.lua")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	t.Run("Absent", func(t *testing.T) {
		c, err := Load(t.Context(), filepath.Join(t.TempDir(), "config.lua"), false)
		if err != nil || c.Executor != "host" || c.JobTimeout != time.Hour || len(c.Secrets) != 0 {
			t.Errorf("got %+v, %v; want defaults", c, err)
		}
		if _, err := Load(t.Context(), filepath.Join(t.TempDir(), "config.lua"), true); err == nil {
			t.Error("a missing file named explicitly loaded without error")
		}
	})
	t.Run("OnlyComments", func(t *testing.T) {
		for _, src := range []string{"", "\n  \n", "-- all defaults for now\n--[[ executor = \"bwrap\" ]]\n"} {
			c, err := Load(t.Context(), write(t, src), true)
			if err != nil || c.Executor != "host" {
				t.Errorf("%q: got %+v, %v; want defaults", src, c, err)
			}
		}
	})
	t.Run("Full", func(t *testing.T) {
		p := write(t, `return {
  secrets = { token = { file = "/run/secrets/token" }, webhook = "plain-value" },
  executor = "bwrap", network = true, job_timeout = 90, run_timeout = 0.5,
  keep_workspace = true, keep_runs = 20, colour = "blue",
}`)
		c, err := Load(t.Context(), p, true)
		if err != nil {
			t.Fatal(err)
		}
		if c.Executor != "bwrap" || !c.Network || c.JobTimeout != 90*time.Second || c.RunTimeout != 500*time.Millisecond ||
			!c.KeepWorkspace || c.KeepRuns != 20 {
			t.Errorf("settings: %+v", c)
		}
		if got := c.Secrets["token"]; got.File != "/run/secrets/token" || got.Value != "" {
			t.Errorf("file secret: %+v", got)
		}
		if got := c.Secrets["webhook"]; got.Value != "plain-value" {
			t.Errorf("plain secret: %+v", got)
		}
		if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], `unknown key "colour"`) {
			t.Errorf("warnings: %q", c.Warnings)
		}
	})
	bad := []struct{ name, src, want string }{
		{"Syntax", "return {\n  executor = \"host\"\n  network = true\n}", "config.lua:3:"},
		{"Runtime", "local x = nil\nreturn x.y", "config.lua:2:"},
		{"NotATable", `return "host"`, "must return a table"},
		// Without return, every setting would be dropped: the host
		// executor instead of the sandbox asked for.
		{"NoReturn", "executor = \"bwrap\"\nnetwork = false", "returns nothing, so none of its settings would apply"},
		{"NoReturnTable", "local c = { executor = \"bwrap\" }", "returns nothing"},
		{"ReturnNil", "return nil", "returns nothing"},
		{"Executor", `return { executor = "podman" }`, `executor "podman" is not one of host, bwrap, docker`},
		{"WrongType", `return { job_timeout = "1h" }`, "job_timeout must be a number >= 0"},
		{"Negative", `return { run_timeout = -1 }`, "run_timeout must be a number >= 0"},
		{"Fraction", `return { keep_runs = 1.5 }`, "keep_runs must be a whole number"},
		{"Bool", `return { network = "yes" }`, "network must be true or false"},
		{"ShortSecret", `return { secrets = { pin = "123" } }`, `secret "pin" is shorter than 4 bytes`},
		{"RelativeFile", `return { secrets = { t = { file = "token" } } }`, "must be an absolute path"},
		{"SecretType", `return { secrets = { t = 42 } }`, `secret "t" must be a string`},
		{"Loop", `while true do end`, "did not finish within"},
		{"Sandbox", `return { executor = os.getenv("X") }`, "config.lua:1:"},
	}
	loadTimeout = 200 * time.Millisecond
	t.Cleanup(func() { loadTimeout = 10 * time.Second })
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			_, err := Load(t.Context(), write(t, b.src), true)
			if err == nil || !strings.Contains(err.Error(), b.want) {
				t.Errorf("got %v, want an error containing %q", err, b.want)
			}
		})
	}
}

func TestLoad_SyntaxErrorHidesSecrets(t *testing.T) {
	// A syntax error in config.lua reaches the pusher: it gives the file,
	// the line and the kind of error, never the text of the file.
	secret := `hunter2-it\'s \"s3cret\" é` + "\xff\xfe" // as written in Lua
	for _, tt := range []struct{ name, src, want string }{
		{"UnterminatedString", "return {\n secrets = { token = \"" + secret + "\n} }", ":2: unterminated string"},
		{"UnterminatedLongString", "return {\n secrets = { token = [[" + secret + " } }\n", ":2: unterminated multiline string at the end of the file"},
		{"TokenAfterValue", "return {\n secrets = { token = 'x' " + secret + "' } }", ":2: syntax error"},
		{"SingleQuotes", "return {\n secrets = { token = '" + secret + "\n", ":2: unterminated string"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(t.Context(), write(t, tt.src), true)
			if err == nil {
				t.Fatal("loaded without error")
			}
			msg := err.Error()
			for _, leak := range []string{"hunter2", "s3cret", "\xff"} {
				if strings.Contains(msg, leak) {
					t.Errorf("message %q quotes the file (%q)", msg, leak)
				}
			}
			if !strings.Contains(msg, "config.lua"+tt.want) {
				t.Errorf("message %q, want it to say %q", msg, tt.want)
			}
		})
	}
}
