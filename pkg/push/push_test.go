package push

import (
	"strings"
	"testing"
)

const (
	a = "1111111111111111111111111111111111111111"
	b = "2222222222222222222222222222222222222222"
)

func TestParse(t *testing.T) {
	in := strings.Join([]string{
		ZeroSHA + " " + a + " refs/heads/main",
		"garbage",
		"",
		a + " " + ZeroSHA + " refs/heads/gone",
		a + " xyz refs/heads/x",
		a + " " + b + " refs/heads/with space",
		a + " " + b + " refs/tags/v1.0\r",
		a + " " + b + " refs/heads/café",
		a + " " + b + " HEAD",
	}, "\n")
	updates, bad, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Update{
		{ZeroSHA, a, "refs/heads/main"},
		{a, ZeroSHA, "refs/heads/gone"},
		{a, b, "refs/tags/v1.0"},
		{a, b, "refs/heads/café"},
	}
	if len(updates) != len(want) {
		t.Fatalf("got %d updates %v, want %d", len(updates), updates, len(want))
	}
	for i := range want {
		if updates[i] != want[i] {
			t.Errorf("update %d: got %v, want %v", i, updates[i], want[i])
		}
	}
	if updates[0].Old != ZeroSHA || updates[0].Deleted() {
		t.Errorf("first update: want created, not deleted")
	}
	if !updates[1].Deleted() {
		t.Errorf("second update: want deleted")
	}
	var lines []int
	for _, e := range bad {
		lines = append(lines, e.Line)
	}
	if got, want := lines, []int{2, 5, 6, 9}; !equal(got, want) {
		t.Errorf("bad lines: got %v, want %v", got, want)
	}
	if got := bad[1].Error(); !strings.Contains(got, `new sha "xyz"`) {
		t.Errorf("bad line message: got %q", got)
	}
	if got := bad[2].Error(); !strings.Contains(got, "space") {
		t.Errorf("space message: got %q", got)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParse_LongLine(t *testing.T) {
	// One overlong line is reported and skipped; the next still counts.
	in := strings.Repeat("x", 70000) + "\n" + a + " " + b + " refs/heads/main\n" + a + " " + b + " refs/heads/last"
	updates, bad, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(updates) != 2 || updates[0].Ref != "refs/heads/main" || updates[1].Ref != "refs/heads/last" {
		t.Errorf("updates = %v, want main and last", updates)
	}
	if len(bad) != 1 || bad[0].Line != 1 || !strings.Contains(bad[0].Error(), "over 65536 bytes") {
		t.Errorf("bad = %v, want line 1 reported as too long", bad)
	}
}

func TestCheckRef(t *testing.T) {
	good := []string{
		"refs/heads/main",
		"refs/heads/feature/x-1_2",
		"refs/tags/v1.0",
		"refs/heads/café",
		"refs/heads/-dash",
		"refs/heads/a.b",
		"refs/heads/a@b",
		"refs/x",
		"refs/heads/" + strings.Repeat("a", 255),
	}
	for _, ref := range good {
		if err := CheckRef(ref); err != nil {
			t.Errorf("CheckRef(%q) = %v, want nil", ref, err)
		}
	}
	bad := []struct{ ref, why string }{
		{"", "empty ref name"},
		{"main", "does not start with refs/"},
		{"HEAD", "does not start with refs/"},
		{"heads/main", "does not start with refs/"},
		{"/refs/heads/main", "does not start with refs/"},
		{"refs/", "ends with /"},
		{"refs/heads/main/", "ends with /"},
		{"refs/heads/a b", "space"},
		{"refs/heads/a\nb", "control character"},
		{"refs/heads/a\tb", "control character"},
		{"refs/heads/a\x7fb", "control character"},
		{"refs/heads/a\x00b", "control character"},
		{"refs/heads/../../etc", `".."`},
		{"refs/heads/a..b", `".."`},
		{"refs/heads//a", `"//"`},
		{"refs/heads/a~1", `"~"`},
		{"refs/heads/a^", `"^"`},
		{"refs/heads/a:b", `":"`},
		{"refs/heads/a?", `"?"`},
		{"refs/heads/a*", `"*"`},
		{"refs/heads/a[b", `"["`},
		{`refs/heads/a\b`, `"\\"`},
		{"refs/heads/a@{1}", `"@{"`},
		{"refs/heads/.hidden", "starts with ."},
		{"refs/heads/x/.y", "starts with ."},
		{"refs/heads/main.lock", "ends with .lock"},
		{"refs/heads/main.lock/x", "ends with .lock"},
		{"refs/heads/main.", "ends with ."},
		{"refs/heads/\xff", "not valid UTF-8"},
		{"refs/heads/" + strings.Repeat("a", 256), "over 255 bytes"},
		{"refs/heads/" + strings.Repeat("a/", 600) + "a", "over the 1024-byte limit"},
	}
	for _, c := range bad {
		err := CheckRef(c.ref)
		if err == nil {
			t.Errorf("CheckRef(%q) = nil, want an error saying %s", c.ref, c.why)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.why) || strings.ContainsAny(msg, "\n\r") {
			t.Errorf("CheckRef(%q) = %q, want one line saying %s", c.ref, msg, c.why)
		}
	}
}

func TestParse_RefsPostReceiveRefuses(t *testing.T) {
	// What CheckRef refuses, a stdin line is reported for, not run.
	for _, ref := range []string{"refs/heads/../../etc", "refs/heads/a~1", "refs/heads/x.lock", "refs/heads//a"} {
		updates, bad, err := Parse(strings.NewReader(a + " " + b + " " + ref + "\n"))
		if err != nil || len(updates) != 0 || len(bad) != 1 {
			t.Errorf("Parse(%q): updates %v, bad %v, err %v; want one bad line", ref, updates, bad, err)
		}
	}
}
