package manager

import (
	"runtime/debug"
	"testing"
)

func TestSetGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		name, gogc, want string
		wantPercent      int
	}{
		{name: "flag", want: "50", wantPercent: 50},
		{name: "GOGC wins", gogc: "80", want: "80", wantPercent: 100},
		{name: "GOGC off wins", gogc: "off", want: "off", wantPercent: 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			got := setGCPercent(50, func(k string) string {
				if k == "GOGC" {
					return tc.gogc
				}
				return ""
			})
			if got != tc.want {
				t.Errorf("setGCPercent = %q, want %q", got, tc.want)
			}
			if p := debug.SetGCPercent(100); p != tc.wantPercent {
				t.Errorf("GC percent in force = %d, want %d", p, tc.wantPercent)
			}
		})
	}
}
