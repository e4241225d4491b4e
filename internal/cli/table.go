package cli

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// printTable writes rows as flux does: upper-case headers, left-aligned columns padded to their
// widest cell and separated by a tab, no borders. A nil header prints the rows only.
func printTable(w io.Writer, header []string, rows [][]string) error {
	all := rows
	if header != nil {
		up := make([]string, len(header))
		for i, h := range header {
			up[i] = strings.ToUpper(h)
		}
		all = append([][]string{up}, rows...)
	}
	var widths []int
	for _, r := range all {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			if n := utf8.RuneCountInString(c); n > widths[i] {
				widths[i] = n
			}
		}
	}
	var b strings.Builder
	for _, r := range all {
		var line strings.Builder
		for i, c := range r {
			if i > 0 {
				line.WriteString("\t")
			}
			line.WriteString(c)
			if i < len(r)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " \t"))
		b.WriteString("\n")
	}
	_, err := fmt.Fprint(w, b.String())
	return err
}
