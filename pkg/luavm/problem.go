package luavm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Problem is one thing the user must fix in a Lua file, at a line.
type Problem struct {
	File string // the file as the user knows it, such as ".quire/ci.lua"
	Line int    // from 1; 0 when no line is known
	Msg  string
}

// String formats the problem as "<file>:<line>: <msg>", or "<file>: <msg>"
// when no line is known.
func (p Problem) String() string {
	if p.Line <= 0 {
		return fmt.Sprintf("%s: %s", p.File, p.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
}

// LoadError is returned when Lua code does not load: by Eval, and by
// loaders built on this package (a pipeline that does not load or does
// not validate). It lists every problem found.
type LoadError struct {
	Problems []Problem
}

// Error returns the problems, one a line.
func (e *LoadError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// syntaxProblem turns the error of compiling chunk file into a Problem.
// gopher-lua writes "<file> line:3(column:5) near 'x':   syntax error";
// the Problem says ".quire/ci.lua:3: syntax error near 'x'", the token
// cut to maxNear bytes of valid UTF-8. With hideSource it leaves out the
// token: the file may hold secrets, which must not reach the pusher.
func syntaxProblem(file string, src []byte, err error, hideSource bool) Problem {
	var aerr *lua.ApiError
	if errors.As(err, &aerr) && aerr.Cause != nil {
		err = aerr.Cause
	}
	var perr *parse.Error
	if errors.As(err, &perr) {
		msg := perr.Message
		if hideSource {
			msg = hiddenMessage(msg)
		}
		if perr.Pos.Line == parse.EOF {
			return Problem{File: file, Line: lastLine(src), Msg: msg + " at the end of the file"}
		}
		if perr.Token != "" && !hideSource {
			msg = fmt.Sprintf("%s near '%s'", msg, nearToken(perr.Token))
		}
		line := perr.Pos.Line
		if perr.Message == "unterminated string" && perr.Pos.Column == 0 && line > 1 {
			line-- // the scanner has gone past the newline that ends the string
		}
		return Problem{File: file, Line: line, Msg: msg}
	}
	var cerr *lua.CompileError
	if errors.As(err, &cerr) {
		return Problem{File: file, Line: cerr.Line, Msg: cerr.Message}
	}
	if hideSource {
		return Problem{File: file, Msg: "syntax error"}
	}
	return Problem{File: file, Msg: strings.ToValidUTF8(strings.TrimSpace(err.Error()), "\ufffd")}
}

// maxNear bounds the token a syntax error quotes: an unterminated long
// string is the rest of the file.
const maxNear = 40

// nearToken returns tok cut to maxNear bytes, as valid UTF-8.
func nearToken(tok string) string {
	if len(tok) > maxNear {
		tok = tok[:maxNear] + "..."
	}
	return strings.ToValidUTF8(tok, "\ufffd")
}

// hiddenMessage returns msg, one of the parser's messages, if it is one
// of the fixed ones, else "syntax error": a message built from the
// source is not shown.
func hiddenMessage(msg string) string {
	switch msg {
	case "unterminated string", "unterminated multiline string", "invalid multiline string",
		"invalid multiline comment", "illegal hexadecimal number", "Invalid token", "Invalid '~' token",
		"ambiguous syntax (function call x new statement)", "parse error", "syntax error":
		return msg
	}
	return "syntax error"
}

// lastLine returns the number of the last line of src.
func lastLine(src []byte) int {
	n := strings.Count(string(src), "\n")
	if len(src) == 0 || src[len(src)-1] != '\n' {
		n++
	}
	return n
}

// RuntimeProblem turns the error object of a failed pcall into a Problem.
// files are the chunk names loaded so far; a message that starts with one
// of them followed by a line number is split there, anything else is
// attributed to fallback without a line. The Lua traceback is not kept:
// the position says where to look.
func RuntimeProblem(obj lua.LValue, files []string, fallback string) Problem {
	s, ok := obj.(lua.LString)
	if !ok {
		return Problem{File: fallback, Msg: fmt.Sprintf("error raised with a %s value instead of a message", obj.Type())}
	}
	msg := string(s)
	for _, f := range files {
		rest, ok := strings.CutPrefix(msg, f+":")
		if !ok {
			continue
		}
		digits, tail, ok := strings.Cut(rest, ": ")
		line, err := strconv.Atoi(digits)
		if ok && err == nil {
			return Problem{File: f, Line: line, Msg: tail}
		}
	}
	return Problem{File: fallback, Msg: msg}
}
