package ansi

import "unicode/utf8"

// replacement is what an invalid byte of UTF-8 becomes.
var replacement = []byte(string(utf8.RuneError))

// MaxSpans is the most spans Parse returns for one line. A line that
// would need more (a hostile one changing style at every byte) gets its
// first MaxSpans-1 spans and then the rest of its text as one span in the
// default style.
const MaxSpans = 10000

// seg is a span under construction: its text is buf[start:end].
type seg struct {
	style      Style
	start, end int
}

// parser is the state of Parse over one line.
type parser struct {
	style  Style  // the SGR state at the current byte
	buf    []byte // the text kept so far, cleaned
	segs   []seg
	capped bool // MaxSpans reached: the last seg takes the rest in the default style
	cr     bool // a \r was seen: the next text replaces everything kept so far
}

// Parse splits one line (without its newline) into spans of text and the
// style each is shown in, starting in style start (the end style of the
// line before it in the same stream, or the zero Style), and returns the
// style in force at its end.
//
// It renders the SGR sequences (ESC [ ... m) that Style can hold and
// strips every other escape sequence (CSI, OSC such as hyperlinks, DCS,
// two- and three-byte escapes, a lone ESC) and every C0 and C1 control
// but TAB. A \r followed by more text throws away what came before it,
// as a terminal overwrites a progress bar; a trailing \r is dropped.
// Invalid UTF-8 becomes U+FFFD. Adjacent text in one style is one span
// and no span is empty. The work is linear in len(line), with O(spans)
// allocations and at most MaxSpans spans.
func Parse(line []byte, start Style) (spans []Span, end Style) {
	p := parser{style: start, buf: make([]byte, 0, len(line))}
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == 0x1b:
			i = p.escape(line, i)
		case c == '\r':
			p.cr = true
			i++
		default:
			j, bad := printable(line, i)
			switch {
			case j > i:
				p.text(line[i:j])
				i = j
			case bad:
				p.text(replacement)
				i++
			default:
				i = skipControl(line, i)
			}
		}
	}
	return p.spans(), p.style
}

// text appends t, shown in the current style.
func (p *parser) text(t []byte) {
	if p.cr {
		p.cr, p.capped = false, false
		p.buf, p.segs = p.buf[:0], p.segs[:0]
	}
	n := len(p.segs)
	switch {
	case p.capped:
	case n > 0 && p.segs[n-1].style == p.style:
	case n >= MaxSpans-1:
		p.capped = true
		if p.segs[n-1].style != (Style{}) {
			p.segs = append(p.segs, seg{start: len(p.buf), end: len(p.buf)})
		}
	default:
		p.segs = append(p.segs, seg{style: p.style, start: len(p.buf), end: len(p.buf)})
	}
	p.buf = append(p.buf, t...)
	p.segs[len(p.segs)-1].end = len(p.buf)
}

// spans returns the segments as Spans sharing one string.
func (p *parser) spans() []Span {
	if len(p.segs) == 0 {
		return nil
	}
	s := string(p.buf)
	out := make([]Span, len(p.segs))
	for i, g := range p.segs {
		out[i] = Span{Style: g.style, Text: s[g.start:g.end]}
	}
	return out
}

// escape consumes the escape sequence whose ESC is at line[i], applies it
// if it is SGR, and returns the index of the byte after it. A sequence cut
// short by a byte that cannot be part of it ends before that byte, which
// is then read as text or as the next sequence; one cut short by the end
// of the line is dropped.
func (p *parser) escape(line []byte, i int) int {
	i++ // ESC
	if i == len(line) {
		return i
	}
	switch c := line[i]; {
	case c == '[':
		return p.csi(line, i+1)
	case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
		return stringSequence(line, i+1)
	case c >= 0x20 && c < 0x30:
		// nF: intermediates, then one final byte (ESC ( B, ESC # 8).
		for i < len(line) && line[i] >= 0x20 && line[i] < 0x30 {
			i++
		}
		if i < len(line) && line[i] >= 0x30 && line[i] < 0x7f {
			i++
		}
		return i
	case c >= 0x30 && c < 0x7f:
		return i + 1 // ESC c, ESC 7, ESC =, ...
	default:
		return i // a lone ESC
	}
}

// csi consumes a control sequence whose parameters start at line[i]:
// parameter bytes 0x30-0x3F, intermediate bytes 0x20-0x2F, one final byte
// 0x40-0x7E. Only a final 'm' without intermediates or a private marker
// is SGR; anything else (cursor moves, erases, modes) is dropped.
func (p *parser) csi(line []byte, i int) int {
	params := i
	for i < len(line) && line[i] >= 0x30 && line[i] < 0x40 {
		i++
	}
	inter := i
	for i < len(line) && line[i] >= 0x20 && line[i] < 0x30 {
		i++
	}
	if i == len(line) {
		return i
	}
	final := line[i]
	if final < 0x40 || final >= 0x7f {
		return i
	}
	if final == 'm' && inter == i {
		p.style = applySGR(p.style, line[params:inter])
	}
	return i + 1
}

// stringSequence consumes the body of an OSC, DCS, SOS, PM or APC string
// starting at line[i], up to and including its terminator: BEL or ST (ESC
// \). Another ESC ends it without being consumed, as CAN and SUB abort it.
func stringSequence(line []byte, i int) int {
	for ; i < len(line); i++ {
		switch line[i] {
		case 0x07:
			return i + 1
		case 0x18, 0x1a:
			return i + 1
		case 0x1b:
			if i+1 < len(line) && line[i+1] == '\\' {
				return i + 2
			}
			return i
		}
	}
	return i
}

// printable returns the end of the run of text starting at line[i] that
// is shown as it is: TAB, printable ASCII and valid UTF-8 other than C1
// controls. Where that run is empty, bad says whether line[i] starts
// invalid UTF-8 (rather than a control).
func printable(line []byte, i int) (j int, bad bool) {
	for j = i; j < len(line); {
		c := line[j]
		if c < utf8.RuneSelf {
			if c != '\t' && (c < 0x20 || c == 0x7f) {
				return j, false
			}
			j++
			continue
		}
		r, size := utf8.DecodeRune(line[j:])
		if r == utf8.RuneError && size == 1 {
			return j, j == i
		}
		if r < 0xa0 {
			return j, false // C1: some terminals act on them (U+009B is CSI)
		}
		j += size
	}
	return j, false
}

// skipControl returns the index after the control at line[i]: a C0
// control byte or DEL, or a C1 control encoded in UTF-8.
func skipControl(line []byte, i int) int {
	if line[i] < utf8.RuneSelf {
		return i + 1
	}
	_, size := utf8.DecodeRune(line[i:])
	return i + size
}
