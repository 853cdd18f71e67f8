package config

import (
	"slices"
	"strings"
	"testing"
)

func TestLoad_Notify(t *testing.T) {
	t.Run("Full", func(t *testing.T) {
		p := write(t, `return {
  secrets = { hook_hmac = "a-long-hmac-key" },
  notify = {
    { on = {"failed", "fixed"}, email = "ops@example.com" },
    { on = {"failed"}, webhook = "https://chat.example/hooks/ci", secret = "hook_hmac" },
    { on = "always", command = {"/usr/local/bin/ci-notify", "--quiet"} },
    { on = {"complete"}, email = {"a@example.com", "Bea <b@example.com>"}, from = "ci@example.com" },
  },
  sendmail = {"/usr/bin/msmtp", "-t"},
}`)
		c, err := Load(t.Context(), p, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Warnings) != 0 {
			t.Errorf("warnings: %q", c.Warnings)
		}
		if len(c.Notify) != 4 {
			t.Fatalf("notify: %+v", c.Notify)
		}
		n := c.Notify
		if !slices.Equal(n[0].On, []string{"failed", "fixed"}) || !slices.Equal(n[0].Email, []string{"ops@example.com"}) || n[0].Line != 4 || n[0].Index != 1 {
			t.Errorf("entry 1: %+v", n[0])
		}
		if n[1].Webhook != "https://chat.example/hooks/ci" || n[1].Secret != "hook_hmac" || n[1].Line != 5 {
			t.Errorf("entry 2: %+v", n[1])
		}
		if !n[2].Follows("always") || n[2].Follows("failed") || !slices.Equal(n[2].Command, []string{"/usr/local/bin/ci-notify", "--quiet"}) {
			t.Errorf("entry 3: %+v", n[2])
		}
		if len(n[3].Email) != 2 || n[3].From != "ci@example.com" {
			t.Errorf("entry 4: %+v", n[3])
		}
		for i, want := range []string{"email ops@example.com", "webhook https://chat.example/…", "command /usr/local/bin/ci-notify"} {
			if got := n[i].Target(); got != want {
				t.Errorf("entry %d: Target() = %q, want %q", i+1, got, want)
			}
		}
		if !slices.Equal(c.Sendmail, []string{"/usr/bin/msmtp", "-t"}) {
			t.Errorf("sendmail: %q", c.Sendmail)
		}
	})

	bad := []struct{ name, src, want string }{
		{"UnknownEvent", "return { notify = {\n  { on = {\"broken\"}, email = \"ops@example.com\" },\n} }",
			`notify[1] (line 2): unknown event "broken" (known: failed, fixed, complete, always)`},
		{"NoTarget", `return { notify = { { on = {"failed"} } } }`, "notify[1]: has no target; give one of email, webhook, command"},
		{"TwoTargets", `return { notify = { { on = {"failed"}, email = "a@example.com", command = {"/bin/true"} } } }`, "give exactly one of"},
		{"FileURL", "return { notify = {\n  { on = {\"failed\"}, email = \"a@example.com\" },\n  { on = {\"failed\"}, webhook = \"file:///etc/passwd\" },\n} }",
			`notify[2] (line 3): webhook must be an http:// or https:// URL, not scheme "file"`},
		{"NoHost", `return { notify = { { on = {"failed"}, webhook = "https:///x" } } }`, "webhook URL has no host"},
		{"UndeclaredSecret", `return { secrets = { other = "a-long-value" }, notify = { { on = {"failed"}, webhook = "https://h/x", secret = "hook_hmac" } } }`,
			`secret "hook_hmac" names no secret of the secrets table`},
		{"SecretWithoutWebhook", `return { secrets = { s = "a-long-value" }, notify = { { on = {"failed"}, email = "a@example.com", secret = "s" } } }`,
			"this entry has no webhook"},
		{"NoEvents", `return { notify = { { on = {}, email = "a@example.com" } } }`, "on must list at least one event"},
		{"BadAddress", `return { notify = { { on = {"failed"}, email = "not an address" } } }`, `email "not an address" is not an address`},
		{"HeaderInjection", `return { notify = { { on = {"failed"}, email = "a@example.com\r\nBcc: x@evil.example" } } }`, "is not an address"},
		{"UnknownKey", `return { notify = { { on = {"failed"}, email = "a@example.com", cc = "b@example.com" } } }`, `unknown key "cc"`},
		{"NotAList", `return { notify = "ops@example.com" }`, "notify must be a list"},
		{"EmptyCommand", `return { notify = { { on = {"failed"}, command = {} } } }`, "command must be a non-empty argv list"},
		{"Sendmail", `return { sendmail = {} }`, "sendmail must be a non-empty argv list"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			p := write(t, b.src)
			_, err := Load(t.Context(), p, true)
			if err == nil || !strings.Contains(err.Error(), b.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("got %v, want an error naming %s and containing %q", err, p, b.want)
			}
		})
	}
}
