package config

import (
	"bytes"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// The events a notify entry may name (SPEC §13).
const (
	EventFailed   = "failed"   // a run ended failed, timeout included; never superseded or canceled
	EventFixed    = "fixed"    // a run ended complete after the last one of its ref failed
	EventComplete = "complete" // a run ended complete
	EventAlways   = "always"   // a run ended complete or failed (as failed above)
)

// Events are the events a notify entry may name, in SPEC order.
var Events = []string{EventFailed, EventFixed, EventComplete, EventAlways}

// DefaultSendmail is the command mail goes through when config.lua sets
// no sendmail: it reads the message on stdin and takes the recipients
// from its headers.
var DefaultSendmail = []string{"/usr/sbin/sendmail", "-t", "-i"}

// Notify is one entry of config.lua's notify list: the events it
// follows and exactly one target (Email, Webhook or Command).
type Notify struct {
	On []string // events, at least one
	// Email are the recipients' addresses.
	Email []string
	// From is the mail's sender; "" is quire-hook@<host>.
	From string
	// Webhook is an http or https URL the result is POSTed to.
	Webhook string
	// Secret names the declared secret whose value signs webhook
	// bodies (X-Quire-Signature-256); "" for none.
	Secret string
	// Command is an argv; the result is JSON on its stdin.
	Command []string
	// Index is the entry's position in the list, from 1; Line its line
	// in config.lua, or 0 when it could not be found.
	Index, Line int
}

// Follows reports whether the entry is told of event.
func (n Notify) Follows(event string) bool {
	return slices.Contains(n.On, event)
}

// Target names the entry's target for records and messages, without
// what may be secret in it: the URL of a webhook only up to its host
// (chat hooks carry their token in the path), a command by its program.
func (n Notify) Target() string {
	switch {
	case len(n.Email) > 0:
		return "email " + strings.Join(n.Email, ", ")
	case n.Webhook != "":
		u, err := url.Parse(n.Webhook)
		if err != nil {
			return "webhook"
		}
		s := "webhook " + u.Scheme + "://" + u.Host
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			s += "/…"
		}
		return s
	case len(n.Command) > 0:
		return "command " + n.Command[0]
	}
	return "none"
}

// notifyKeys are the keys a notify entry may have.
var notifyKeys = []string{"on", "email", "from", "webhook", "secret", "command"}

// parseNotify reads config.lua's notify list. secrets is the secrets
// table as config.lua gave it (nil: none), which a webhook's secret
// must name. Errors say the entry and, where the file shows it, the line.
func parseNotify(path string, v, secrets lua.LValue) ([]Notify, error) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf(`notify must be a list of { on = {"failed"}, email = "ops@example.com" } entries, not a %s`, v.Type())
	}
	src, _ := os.ReadFile(path) // for line numbers only; Load read it already
	var out []Notify
	var errs []string
	n := t.Len()
	if nonList := countKeys(t) - n; nonList > 0 {
		errs = append(errs, fmt.Sprintf("notify must be a list ({ {...}, {...} }); it has %d keys that are not positions 1..%d", nonList, n))
	}
	for i := 1; i <= n; i++ {
		e, err := parseNotifyEntry(i, t.RawGetInt(i), secrets)
		e.Line = entryLine(src, e)
		if err != nil {
			where := fmt.Sprintf("notify[%d]", i)
			if e.Line > 0 {
				where += fmt.Sprintf(" (line %d)", e.Line)
			}
			errs = append(errs, where+": "+err.Error())
			continue
		}
		out = append(out, e)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

func parseNotifyEntry(i int, v, secrets lua.LValue) (Notify, error) {
	e := Notify{Index: i}
	t, ok := v.(*lua.LTable)
	if !ok {
		return e, fmt.Errorf(`must be a table such as { on = {"failed"}, email = "ops@example.com" }, not a %s`, v.Type())
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	for _, k := range tableKeys(t) {
		if !slices.Contains(notifyKeys, k) {
			fail("unknown key %q (known: %s)", k, strings.Join(notifyKeys, ", "))
		}
	}
	if nonStringKeys(t) > 0 {
		fail("has entries without a name; write on = {...} and one of email, webhook, command")
	}

	on, err := strings1("on", t.RawGetString("on"))
	switch {
	case err != nil:
		fail("%v", err)
	case len(on) == 0:
		fail(`on must list at least one event (%s)`, strings.Join(Events, ", "))
	}
	for _, ev := range on {
		if !slices.Contains(Events, ev) {
			fail("unknown event %q (known: %s)", ev, strings.Join(Events, ", "))
		}
	}
	e.On = on

	targets := 0
	if v := t.RawGetString("email"); v != lua.LNil {
		targets++
		e.Email, err = strings1("email", v)
		if err != nil {
			fail("%v", err)
		}
		if len(e.Email) == 0 {
			fail("email must name at least one address")
		}
		for _, a := range e.Email {
			if _, err := mail.ParseAddress(a); err != nil || strings.ContainsAny(a, "\r\n") {
				fail("email %q is not an address such as ops@example.com", a)
			}
		}
	}
	if v := t.RawGetString("from"); v != lua.LNil {
		e.From, err = str("from", v)
		if err == nil {
			if _, perr := mail.ParseAddress(e.From); perr != nil || strings.ContainsAny(e.From, "\r\n") {
				err = fmt.Errorf("from %q is not an address such as ci@example.com", e.From)
			}
		}
		if err != nil {
			fail("%v", err)
		}
		if e.Email == nil {
			fail("from is for email entries only")
		}
	}
	if v := t.RawGetString("webhook"); v != lua.LNil {
		targets++
		e.Webhook, err = str("webhook", v)
		if err == nil {
			err = webhookURL(e.Webhook)
		}
		if err != nil {
			fail("%v", err)
		}
	}
	if v := t.RawGetString("secret"); v != lua.LNil {
		e.Secret, err = str("secret", v)
		switch {
		case err != nil:
			fail("%v", err)
		case !declared(secrets, e.Secret):
			fail("secret %q names no secret of the secrets table; declare it there (secrets = { %s = \"...\" })", e.Secret, e.Secret)
		}
		if e.Webhook == "" {
			fail("secret signs webhook bodies; this entry has no webhook")
		}
	}
	if v := t.RawGetString("command"); v != lua.LNil {
		targets++
		e.Command, err = strings1("command", v)
		if err == nil && len(e.Command) == 0 {
			err = fmt.Errorf(`command must be a non-empty argv list such as {"/usr/local/bin/ci-notify", "--quiet"}`)
		}
		if err == nil && e.Command[0] == "" {
			err = fmt.Errorf("command's program (its first element) is empty")
		}
		if err != nil {
			fail("%v", err)
		}
	}
	switch {
	case targets == 0:
		fail("has no target; give one of email, webhook, command")
	case targets > 1:
		fail("has %d targets; give exactly one of email, webhook, command (one entry per target)", targets)
	}
	if len(errs) > 0 {
		return e, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return e, nil
}

// webhookURL checks that s is an absolute http or https URL. The error
// names the scheme only: a webhook's URL often holds its token.
func webhookURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("webhook is not a URL; give one such as https://chat.example/hooks/ci")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("webhook must be an http:// or https:// URL, not scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("webhook URL has no host; give one such as https://chat.example/hooks/ci")
	}
	return nil
}

// declared reports whether secrets (config.lua's secrets table) has name.
func declared(secrets lua.LValue, name string) bool {
	t, ok := secrets.(*lua.LTable)
	return ok && name != "" && t.RawGetString(name) != lua.LNil
}

// parseSendmail reads sendmail: an argv list, or one program path.
func parseSendmail(key string, v lua.LValue) ([]string, error) {
	if s, ok := v.(lua.LString); ok {
		if s == "" {
			return nil, fmt.Errorf(`%s must name a program, such as {"/usr/sbin/sendmail", "-t", "-i"}`, key)
		}
		return []string{string(s)}, nil
	}
	argv, err := strings1(key, v)
	if err == nil && (len(argv) == 0 || argv[0] == "") {
		err = fmt.Errorf(`%s must be a non-empty argv list such as {"/usr/sbin/sendmail", "-t", "-i"}`, key)
	}
	return argv, err
}

// strings1 reads a string or a list of strings.
func strings1(key string, v lua.LValue) ([]string, error) {
	switch v := v.(type) {
	case lua.LString:
		return []string{string(v)}, nil
	case *lua.LTable:
		n := v.Len()
		if countKeys(v) != n {
			return nil, fmt.Errorf("%s must be a string or a list of strings", key)
		}
		out := make([]string, 0, n)
		for i := 1; i <= n; i++ {
			s, ok := v.RawGetInt(i).(lua.LString)
			if !ok {
				return nil, fmt.Errorf("%s[%d] must be a string, not a %s", key, i, v.RawGetInt(i).Type())
			}
			out = append(out, string(s))
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s must be a string or a list of strings, not a %s", key, v.Type())
}

// entryLine finds the line of config.lua where notify entry e is
// written: the line of its target's value, which is unique enough, or
// 0. Nothing of the file's text goes into an error, only the number.
func entryLine(src []byte, e Notify) int {
	var needle string
	switch {
	case e.Webhook != "":
		needle = e.Webhook
	case len(e.Command) > 0:
		needle = e.Command[0]
	case len(e.Email) > 0:
		needle = e.Email[0]
	default:
		return 0
	}
	at := bytes.Index(src, []byte(strconv.Quote(needle)))
	if at < 0 {
		at = bytes.Index(src, []byte(needle))
	}
	if at < 0 || needle == "" {
		return 0
	}
	return bytes.Count(src[:at], []byte("\n")) + 1
}
