package web_test

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// checkHTML parses body and fails unless no element or attribute came
// from pushed text: one script, /static/live.js under base; no on*
// attribute; no style attribute; every href, src and action relative to
// this server. It returns the page's text.
func checkHTML(t *testing.T, base, body string) string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse page: %v", err)
	}
	var text strings.Builder
	scripts := 0
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			text.WriteString(n.Data)
		case html.ElementNode:
			if n.Data == "script" {
				scripts++
				if src := attr(n, "src"); src != base+"/static/live.js" || n.FirstChild != nil {
					t.Errorf("a script element that is not %s/static/live.js: src=%q", base, src)
				}
			}
			if n.Data == "style" || n.Data == "iframe" || n.Data == "object" || n.Data == "embed" || n.Data == "base" {
				t.Errorf("element <%s> on the page", n.Data)
			}
			if n.Data == "img" && n.Parent != nil && n.Parent.Data != "a" {
				t.Errorf("an img outside a badge link: %v", n.Attr)
			}
			for _, a := range n.Attr {
				k := strings.ToLower(a.Key)
				switch {
				case strings.HasPrefix(k, "on"):
					t.Errorf("<%s %s=%q>: an event handler attribute", n.Data, a.Key, a.Val)
				case k == "style":
					t.Errorf("<%s style=%q>: a style attribute", n.Data, a.Val)
				case k == "href" || k == "src" || k == "action" || k == "xlink:href" || k == "formaction":
					if !relative(base, a.Val) {
						t.Errorf("<%s %s=%q>: not a link within this server", n.Data, a.Key, a.Val)
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if scripts != 1 {
		t.Errorf("%d script elements, want 1", scripts)
	}
	return text.String()
}

// relative reports whether u stays on this server under base.
func relative(base, u string) bool {
	switch {
	case strings.HasPrefix(u, "#"), strings.HasPrefix(u, "?"):
		return true
	case strings.HasPrefix(u, "//"), strings.HasPrefix(u, "/\\"):
		return false
	}
	return strings.HasPrefix(u, base+"/")
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
