package main

import "testing"

func TestGreeting(t *testing.T) {
	for in, want := range map[string]string{"": "hello, world", "quire": "hello, quire"} {
		if got := Greeting(in); got != want {
			t.Errorf("Greeting(%q) = %q, want %q", in, got, want)
		}
	}
}
