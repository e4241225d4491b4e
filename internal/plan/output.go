package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Exit codes of `weir plan`.
const (
	ExitNoChange = 0
	ExitChanges  = 1
	ExitProblems = 2
)

// ExitCode is 2 when the plan has problems, 1 when merging changes the cluster, else 0.
func (p *Plan) ExitCode() int {
	switch {
	case len(p.Problems) > 0:
		return ExitProblems
	case p.HasChanges():
		return ExitChanges
	}
	return ExitNoChange
}

// WriteJSON writes the plan as indented JSON.
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// ansi colours of the human view.
type palette struct{ green, yellow, red, cyan, bold, dim, reset string }

func colours(on bool) palette {
	if !on {
		return palette{}
	}
	return palette{green: "\x1b[32m", yellow: "\x1b[33m", red: "\x1b[31m", cyan: "\x1b[36m", bold: "\x1b[1m", dim: "\x1b[2m", reset: "\x1b[0m"}
}

var symbols = map[Action]string{Created: "+", Changed: "~", Pruned: "-", Drifted: "!", Unchanged: "="}

// WriteHuman writes the plan for a terminal: grouped per Kustomization and HelmRelease, the
// changed objects with their diffs, then the problems.
func (p *Plan) WriteHuman(w io.Writer, colour bool) error {
	c := colours(colour)
	bw := &errWriter{w: w}
	against := "the cluster"
	if p.Mode == "offline" {
		against = "nothing (every object is new)"
		if p.Base != "" {
			against = p.Base
		}
	}
	bw.printf("%sweir plan%s (%s, against %s)\n\n", c.bold, c.reset, p.Mode, against)
	for _, u := range p.Units {
		if u.Status == "unchanged" {
			continue
		}
		col := map[string]string{"added": c.green, "removed": c.red, "failed": c.red, "changed": c.yellow, "unresolved": c.cyan}[u.Status]
		bw.printf("%s%s %s/%s%s %s%s%s", c.bold, u.Kind, u.Namespace, u.Name, c.reset, col, u.Status, c.reset)
		if u.File != "" {
			bw.printf(" %s(%s)%s", c.dim, u.File, c.reset)
		}
		bw.printf("\n")
		if u.Error != "" {
			bw.printf("  %s✗ %s%s\n", c.red, u.Error, c.reset)
		}
		for _, ch := range u.Changes {
			if ch.Action == Unchanged {
				continue
			}
			ac := map[Action]string{Created: c.green, Changed: c.yellow, Pruned: c.red, Drifted: c.cyan}[ch.Action]
			bw.printf("  %s%s %s %s%s", ac, symbols[ch.Action], ch.Subject, ch.Action, c.reset)
			if ch.File != "" {
				bw.printf(" %s(%s)%s", c.dim, ch.File, c.reset)
			}
			bw.printf("\n")
			if ch.Action == Changed || ch.Action == Drifted {
				for _, line := range diffBody(ch.Diff) {
					lc := ""
					switch {
					case strings.HasPrefix(line, "+"):
						lc = c.green
					case strings.HasPrefix(line, "-"):
						lc = c.red
					}
					bw.printf("      %s%s%s\n", lc, line, c.reset)
				}
			}
		}
		bw.printf("\n")
	}
	if len(p.Unresolved) > 0 {
		bw.printf("%sUnresolved sources%s\n", c.bold, c.reset)
		for _, id := range sortedKeys(p.Unresolved) {
			bw.printf("  ? %s: %s\n", id, p.Unresolved[id])
		}
		bw.printf("\n")
	}
	if len(p.Problems) > 0 {
		bw.printf("%sProblems%s\n", c.bold, c.reset)
		for _, pr := range p.Problems {
			bw.printf("  %s✗%s %s\n", c.red, c.reset, pr)
		}
		bw.printf("\n")
	}
	s := p.Summary
	bw.printf("%d units: %d created, %d changed, %d pruned, %d drifted, %d unchanged; %d problems\n",
		s.Units, s.Created, s.Changed, s.Pruned, s.Drifted, s.Unchanged, s.Problems)
	return bw.err
}

// WriteMarkdown writes the plan as a pull-request comment: a summary table, then one
// collapsed section per changed object.
func (p *Plan) WriteMarkdown(w io.Writer) error {
	bw := &errWriter{w: w}
	s := p.Summary
	bw.printf("### weir plan\n\n")
	bw.printf("| units | created | changed | pruned | drifted | unchanged | problems |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	bw.printf("| %d | %d | %d | %d | %d | %d | %d |\n\n", s.Units, s.Created, s.Changed, s.Pruned, s.Drifted, s.Unchanged, s.Problems)
	if len(p.Problems) > 0 {
		bw.printf("#### Problems\n\n")
		for _, pr := range p.Problems {
			bw.printf("- **%s** %s\n", pr.Check, mdEscape(strings.TrimPrefix(pr.String(), "["+pr.Check+"] ")))
		}
		bw.printf("\n")
	}
	if len(p.Unresolved) > 0 {
		bw.printf("#### Unresolved sources\n\n")
		for _, id := range sortedKeys(p.Unresolved) {
			bw.printf("- `%s`: %s\n", id, mdEscape(p.Unresolved[id]))
		}
		bw.printf("\n")
	}
	for _, u := range p.Units {
		if u.Status == "unchanged" {
			continue
		}
		bw.printf("#### %s `%s/%s` — %s\n\n", u.Kind, u.Namespace, u.Name, u.Status)
		if u.Error != "" {
			bw.printf("> %s\n\n", mdEscape(u.Error))
		}
		for _, ch := range u.Changes {
			if ch.Action == Unchanged {
				continue
			}
			where := ""
			if ch.File != "" {
				where = " (`" + ch.File + "`)"
			}
			if ch.Diff == "" || ch.Action == Pruned {
				bw.printf("- %s `%s` %s%s\n", symbols[ch.Action], ch.Subject, ch.Action, where)
				continue
			}
			bw.printf("<details><summary>%s <code>%s</code> %s%s</summary>\n\n```diff\n%s\n```\n\n</details>\n\n",
				symbols[ch.Action], ch.Subject, ch.Action, where, strings.Join(diffBody(ch.Diff), "\n"))
		}
		bw.printf("\n")
	}
	return bw.err
}

// diffBody drops a unified diff's file header lines.
func diffBody(d string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(d, "\n"), "\n") {
		if strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ ") || l == "" {
			continue
		}
		out = append(out, l)
	}
	return out
}

func mdEscape(s string) string {
	return strings.NewReplacer("\n", " ", "|", "\\|", "<", "&lt;", ">", "&gt;").Replace(s)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
