package ansi

// maxParams is the most SGR parameters read from one sequence; the rest
// are ignored (xterm reads 30).
const maxParams = 32

// maxParam is where a parameter's value stops growing: more than any
// code or colour, so an overlong number is ignored rather than wrapping.
const maxParam = 1 << 16

// param is one SGR parameter; colon says it is a sub-parameter, joined
// to the one before it by ':' (as in 38:2::255:0:0) rather than ';'.
type param struct {
	n     int32
	colon bool
}

// applySGR returns s changed by the SGR sequence whose parameter bytes
// (between "ESC [" and "m") are b. Empty parameters are 0, so "" resets.
// A sequence with a private marker or a byte other than digits, ';' and
// ':' is not SGR and changes nothing; unknown codes and colours out of
// range are skipped.
func applySGR(s Style, b []byte) Style {
	var ps [maxParams]param
	n, cur := 0, param{}
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			cur.n = min(cur.n*10+int32(c-'0'), maxParam)
		case c == ';' || c == ':':
			if n < maxParams {
				ps[n] = cur
				n++
			}
			cur = param{colon: c == ':'}
		default:
			return s
		}
	}
	if n < maxParams {
		ps[n] = cur
		n++
	}
	for i := 0; i < n; {
		j := i + 1
		for j < n && ps[j].colon {
			j++
		}
		if j > i+1 {
			s = applySubParams(s, ps[i:j])
			i = j
			continue
		}
		switch code := int(ps[i].n); {
		case code == 38 || code == 48 || code == 58:
			c, used, ok := extendedColor(ps[i+1 : n])
			i += 1 + used
			switch {
			case !ok:
			case code == 38:
				s.FG = c
			case code == 48:
				s.BG = c
			}
			continue
		default:
			s = applyCode(s, code)
		}
		i++
	}
	return s
}

// applyCode returns s changed by one SGR code without parameters of its
// own.
func applyCode(s Style, code int) Style {
	switch {
	case code == 0:
		s = Style{}
	case code == 1:
		s.Bold = true
	case code == 2:
		s.Dim = true
	case code == 3:
		s.Italic = true
	case code == 4:
		s.Underline = true
	case code == 7:
		s.Inverse = true
	case code == 9:
		s.Strike = true
	case code == 22:
		s.Bold, s.Dim = false, false
	case code == 23:
		s.Italic = false
	case code == 24:
		s.Underline = false
	case code == 27:
		s.Inverse = false
	case code == 29:
		s.Strike = false
	case code >= 30 && code <= 37:
		s.FG = Palette(uint8(code - 30))
	case code == 39:
		s.FG = 0
	case code >= 40 && code <= 47:
		s.BG = Palette(uint8(code - 40))
	case code == 49:
		s.BG = 0
	case code >= 90 && code <= 97:
		s.FG = Palette(uint8(code - 90 + 8))
	case code >= 100 && code <= 107:
		s.BG = Palette(uint8(code - 100 + 8))
	}
	return s
}

// extendedColor reads the arguments of 38, 48 or 58 given with ';' from
// args: "5;n" or "2;r;g;b". It returns how many it used, and ok false
// where they are missing or out of range.
func extendedColor(args []param) (c Color, used int, ok bool) {
	if len(args) == 0 {
		return 0, 0, false
	}
	switch args[0].n {
	case 5:
		if len(args) < 2 {
			return 0, len(args), false
		}
		return indexColor(int(args[1].n))
	case 2:
		if len(args) < 4 {
			return 0, len(args), false
		}
		c, ok := rgbColor(int(args[1].n), int(args[2].n), int(args[3].n))
		return c, 4, ok
	default:
		return 0, 1, false
	}
}

// indexColor is the palette colour n, with the two arguments ("5;n") it
// took.
func indexColor(n int) (c Color, used int, ok bool) {
	if n > 255 {
		return 0, 2, false
	}
	return Palette(uint8(n)), 2, true
}

// applySubParams returns s changed by one parameter with ':'
// sub-parameters g: 38:5:n, 38:2:r:g:b and 38:2:id:r:g:b (likewise 48),
// 4:n (0 turns underline off, any other style of underline on).
func applySubParams(s Style, g []param) Style {
	sub := g[1:]
	switch g[0].n {
	case 4:
		s.Underline = sub[0].n != 0
	case 38, 48:
		var c Color
		var ok bool
		switch {
		case sub[0].n == 5 && len(sub) == 2:
			c, _, ok = indexColor(int(sub[1].n))
		case sub[0].n == 2 && len(sub) == 4:
			c, ok = rgbColor(int(sub[1].n), int(sub[2].n), int(sub[3].n))
		case sub[0].n == 2 && len(sub) >= 5:
			c, ok = rgbColor(int(sub[2].n), int(sub[3].n), int(sub[4].n))
		}
		switch {
		case !ok:
		case g[0].n == 38:
			s.FG = c
		default:
			s.BG = c
		}
	}
	return s
}

// cubeLevels are the channel values of the palette's 6x6x6 cube.
var cubeLevels = [6]int{0, 95, 135, 175, 215, 255}

// rgbColor returns the palette entry nearest to r, g, b among the fixed
// ones (16-255: the cube and the greys), so a class can name it; entries
// 0-15 are left out because their values depend on the theme.
func rgbColor(r, g, b int) (Color, bool) {
	if r > 255 || g > 255 || b > 255 {
		return 0, false
	}
	level := func(v int) int {
		switch {
		case v < 48:
			return 0
		case v < 115:
			return 1
		default:
			return (v - 35) / 40
		}
	}
	ri, gi, bi := level(r), level(g), level(b)
	cube := 16 + 36*ri + 6*gi + bi
	cubeDist := dist(r, g, b, cubeLevels[ri], cubeLevels[gi], cubeLevels[bi])

	gray := min(max((r+g+b)/3-3, 0)/10, 23)
	v := 8 + 10*gray
	if dist(r, g, b, v, v, v) < cubeDist {
		return Palette(uint8(232 + gray)), true
	}
	return Palette(uint8(cube)), true
}

// dist is the squared distance between two colours.
func dist(r1, g1, b1, r2, g2, b2 int) int {
	dr, dg, db := r1-r2, g1-g2, b1-b2
	return dr*dr + dg*dg + db*db
}
