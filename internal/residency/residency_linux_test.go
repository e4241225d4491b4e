package residency

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestParseSmaps(t *testing.T) {
	smaps := []byte(`00400000-0343e000 r-xp 00000000 fd:01 123 /usr/bin/weir
Size:              49400 kB
Rss:               42884 kB
Anonymous:             0 kB
0343e000-06f08000 r--p 0303e000 fd:01 123 /usr/bin/weir
Size:              60200 kB
Anonymous:             0 kB
06f08000-06f10000 r--p 06b08000 fd:01 123 /usr/bin/weir
Size:                 32 kB
Anonymous:            32 kB
06f10000-0708e000 rw-p 06b10000 fd:01 123 /usr/bin/weir
Anonymous:           468 kB
0708e000-0a000000 rw-p 00000000 00:00 0
Anonymous:          1024 kB
7f0000000000-7f0000001000 r--p 00000000 fd:01 456 /usr/lib/other
Anonymous:             0 kB
7f0000002000-7f0000003000 r-xp 00000000 fd:01 456 /usr/bin/weir-other
Anonymous:             0 kB
zzzz-0001 r-xp 00000000 fd:01 123 /usr/bin/weir
Anonymous:             0 kB
`)
	got := parseSmaps(smaps, []byte("/usr/bin/weir"))
	want := []span{{0x400000, 0x343e000}, {0x343e000, 0x6f08000}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("parseSmaps = %#v, want %#v (read-only mappings of the executable without written pages only)", got, want)
	}
}

func TestEnabled(t *testing.T) {
	for _, tc := range []struct {
		cmdline, env string
		want         bool
	}{
		{"weir\x00controller\x00--concurrent=10\x00", "", true},
		{"/usr/local/bin/weir\x00controller\x00", "", true},
		{"weir\x00controller\x00", "keep", false},
		{"weir\x00get\x00kustomizations\x00", "", false},
		{"weir\x00", "", false},
		{"", "", false},
	} {
		if got := enabled([]byte(tc.cmdline), tc.env); got != tc.want {
			t.Errorf("enabled(%q, %q) = %v, want %v", tc.cmdline, tc.env, got, tc.want)
		}
	}
}

// TestReleaseShrinksResidentSet releases the test binary's own read-only pages: the
// file-backed part of its resident set must fall, and its code must go on running (the pages
// fault back in).
func TestReleaseShrinksResidentSet(t *testing.T) {
	before := rssFileKiB(t)
	if Release() == 0 {
		t.Fatal("Release found no read-only mapping of the test executable")
	}
	after := rssFileKiB(t)
	t.Logf("RssFile %d KiB before, %d KiB after", before, after)
	if after >= before || before-after < 512 {
		t.Fatalf("RssFile %d KiB after Release, %d KiB before: want at least 512 KiB less", after, before)
	}
	// Code and read-only data released are still there.
	if got := strings.Repeat(strconv.Itoa(42), 3); got != "424242" {
		t.Fatalf("after Release, strings.Repeat gave %q", got)
	}
}

func rssFileKiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte("RssFile:")); ok {
			f := strings.Fields(string(v))
			n, err := strconv.Atoi(f[0])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}
