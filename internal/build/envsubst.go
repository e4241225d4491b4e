package build

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrUndefinedVar is returned (wrapped, naming the variable) in strict mode
// when ${var} has no value and no default.
var ErrUndefinedVar = errors.New("variable not set")

// maxExpandDepth bounds nesting of ${…} inside defaults.
const maxExpandDepth = 32

// lookupFunc returns a variable's value and whether it is set.
type lookupFunc func(name string) (string, bool)

// expander evaluates Flux's envsubst dialect: only ${…} is expanded; $$
// escapes a dollar; $var without braces is literal.
type expander struct {
	lookup lookupFunc
	strict bool
}

// Expand returns s with every ${…} expression evaluated against vars. With
// strict set, an undefined variable without a default is an error naming it.
// It is the text-level core of Substitute.
func Expand(s string, vars map[string]string, strict bool) (string, error) {
	e := expander{strict: strict, lookup: func(n string) (string, bool) {
		v, ok := vars[n]
		return v, ok
	}}
	return e.text(s, 0)
}

// text expands plain text.
func (e *expander) text(s string, depth int) (string, error) {
	if depth > maxExpandDepth {
		return "", errors.New("expressions nested too deeply")
	}
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			b.WriteByte(c)
			i++
			continue
		}
		switch {
		case i+1 < len(s) && s[i+1] == '$':
			// $$ is an escaped dollar: $${var} renders ${var}.
			b.WriteByte('$')
			i += 2
		case i+1 < len(s) && s[i+1] == '{':
			end, err := closing(s, i+2)
			if err != nil {
				return "", err
			}
			v, err := e.expr(s[i+2:end], depth)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i = end + 1
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), nil
}

// closing finds the '}' matching an expression that starts at start,
// honouring nested ${…}.
func closing(s string, start int) (int, error) {
	depth := 0
	for i := start; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}':
			if depth == 0 {
				return i, nil
			}
			depth--
		}
	}
	return 0, fmt.Errorf("unterminated expression %q", truncate(s[start-2:], 40))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func isIdentRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' }

// expr evaluates the inside of ${…}.
func (e *expander) expr(x string, depth int) (string, error) {
	if x == "" {
		return "", errors.New("bad substitution: empty expression ${}")
	}
	length := false
	if strings.HasPrefix(x, "#") && len(x) > 1 {
		length = true
		x = x[1:]
	}
	n := 0
	for n < len(x) {
		r, w := utf8.DecodeRuneInString(x[n:])
		if !isIdentRune(r) {
			break
		}
		n += w
	}
	name, op := x[:n], x[n:]
	if name == "" {
		return "", fmt.Errorf("bad substitution: ${%s}", truncate(x, 40))
	}
	value, set := e.lookup(name)
	if length {
		if op != "" {
			return "", fmt.Errorf("bad substitution: ${#%s}", truncate(x, 40))
		}
		if !set && e.strict {
			return "", fmt.Errorf("%w: %s", ErrUndefinedVar, name)
		}
		return strconv.Itoa(utf8.RuneCountInString(value)), nil
	}

	// Default-providing operators.
	for _, d := range []struct {
		prefix     string
		emptyCount bool
	}{{":=", true}, {":-", true}, {"=", false}, {"-", false}} {
		if strings.HasPrefix(op, d.prefix) {
			if set && (!d.emptyCount || value != "") {
				return value, nil
			}
			return e.text(unescape(op[len(d.prefix):]), depth+1)
		}
	}
	if strings.HasPrefix(op, ":?") || strings.HasPrefix(op, ":+") || strings.HasPrefix(op, "+") || strings.HasPrefix(op, "?") {
		return "", fmt.Errorf("bad substitution: unsupported operator in ${%s}", truncate(x, 40))
	}
	if !set && e.strict {
		return "", fmt.Errorf("%w: %s", ErrUndefinedVar, name)
	}
	switch {
	case op == "":
		return value, nil
	case op == "^":
		return upperFirst(value), nil
	case op == "^^":
		return strings.ToUpper(value), nil
	case op == ",":
		return lowerFirst(value), nil
	case op == ",,":
		return strings.ToLower(value), nil
	case strings.HasPrefix(op, ":"):
		return substring(value, op[1:])
	case strings.HasPrefix(op, "##"):
		return trimPrefix(value, e.pattern(op[2:], depth), true), nil
	case strings.HasPrefix(op, "#"):
		return trimPrefix(value, e.pattern(op[1:], depth), false), nil
	case strings.HasPrefix(op, "%%"):
		return trimSuffix(value, e.pattern(op[2:], depth), true), nil
	case strings.HasPrefix(op, "%"):
		return trimSuffix(value, e.pattern(op[1:], depth), false), nil
	case strings.HasPrefix(op, "/"):
		return e.replace(value, op[1:], depth)
	}
	return "", fmt.Errorf("bad substitution: ${%s}", truncate(x, 40))
}

// pattern expands nested expressions in a pattern operand.
func (e *expander) pattern(p string, depth int) string {
	out, err := e.text(p, depth+1)
	if err != nil {
		return p
	}
	return out
}

// unescape resolves \/ and \\ inside an expression operand.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '/' || s[i+1] == '\\') {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// splitUnescaped splits s at the first '/' not preceded by a backslash.
func splitUnescaped(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func (e *expander) replace(value, op string, depth int) (string, error) {
	mode := byte(0)
	if op != "" && (op[0] == '/' || op[0] == '#' || op[0] == '%') {
		mode, op = op[0], op[1:]
	}
	pat, repl, _ := splitUnescaped(op)
	pat = unescape(e.pattern(pat, depth))
	repl, err := e.text(unescape(repl), depth+1)
	if err != nil {
		return "", err
	}
	switch mode {
	case '#':
		if strings.HasPrefix(value, pat) {
			return repl + value[len(pat):], nil
		}
		return value, nil
	case '%':
		if strings.HasSuffix(value, pat) {
			return value[:len(value)-len(pat)] + repl, nil
		}
		return value, nil
	case '/':
		if pat == "" {
			return value, nil
		}
		return strings.ReplaceAll(value, pat, repl), nil
	default:
		if pat == "" {
			return value, nil
		}
		return strings.Replace(value, pat, repl, 1), nil
	}
}

func substring(value, spec string) (string, error) {
	runes := []rune(value)
	posStr, lenStr, hasLen := strings.Cut(spec, ":")
	pos, err := strconv.Atoi(strings.TrimSpace(posStr))
	if err != nil {
		return "", fmt.Errorf("bad substitution: offset %q is not a number", truncate(posStr, 20))
	}
	if pos < 0 {
		pos += len(runes)
	}
	pos = max(0, min(pos, len(runes)))
	end := len(runes)
	if hasLen {
		n, err := strconv.Atoi(strings.TrimSpace(lenStr))
		if err != nil {
			return "", fmt.Errorf("bad substitution: length %q is not a number", truncate(lenStr, 20))
		}
		if n < 0 {
			end = max(pos, len(runes)+n)
		} else {
			end = min(len(runes), pos+n)
		}
	}
	return string(runes[pos:end]), nil
}

// trimPrefix strips the shortest (or longest) prefix matching a glob.
func trimPrefix(value, pattern string, longest bool) string {
	match := globMatch(pattern)
	if longest {
		for i := len(value); i >= 0; i-- {
			if match(value[:i]) {
				return value[i:]
			}
		}
		return value
	}
	for i := 0; i <= len(value); i++ {
		if match(value[:i]) {
			return value[i:]
		}
	}
	return value
}

// trimSuffix strips the shortest (or longest) suffix matching a glob.
func trimSuffix(value, pattern string, longest bool) string {
	match := globMatch(pattern)
	if longest {
		for i := 0; i <= len(value); i++ {
			if match(value[i:]) {
				return value[:i]
			}
		}
		return value
	}
	for i := len(value); i >= 0; i-- {
		if match(value[i:]) {
			return value[:i]
		}
	}
	return value
}

func upperFirst(s string) string {
	r, w := utf8.DecodeRuneInString(s)
	if w == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[w:]
}

func lowerFirst(s string) string {
	r, w := utf8.DecodeRuneInString(s)
	if w == 0 {
		return s
	}
	return string(unicode.ToLower(r)) + s[w:]
}

// globMatch returns a matcher for a shell pattern (*, ?, [...]) in which, unlike
// path.Match, * also matches '/'.
func globMatch(pattern string) func(string) bool {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			b.WriteString("(?s:.*)")
		case '?':
			b.WriteString("(?s:.)")
		case '[':
			j := strings.IndexByte(pattern[i+1:], ']')
			if j < 0 {
				b.WriteString(regexp.QuoteMeta("["))
				continue
			}
			class := pattern[i+1 : i+1+j]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i += j + 1
		case '\\':
			if i+1 < len(pattern) {
				i++
				b.WriteString(regexp.QuoteMeta(string(pattern[i])))
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return func(string) bool { return false }
	}
	return re.MatchString
}
