package residency

import (
	"bytes"
	"sync"
	"syscall"
	"time"
)

// initInterval is how often the executable's pages are released while packages initialise;
// initLimit bounds that phase should main never call Started.
const (
	initInterval = 2 * time.Millisecond
	initLimit    = 10 * time.Second
)

var (
	once    sync.Once
	ranges  []span // read-only mappings of the executable, found once
	stopped = make(chan struct{})
	stopMu  sync.Once
)

// prSetTHPDisable is prctl's PR_SET_THP_DISABLE (linux/prctl.h).
const prSetTHPDisable = 41

// span is one mapping, [lo, hi).
type span struct{ lo, hi uintptr }

func init() {
	if !enabled(readFile("/proc/self/cmdline"), getenv("WEIR_BINARY_PAGES")) {
		stopMu.Do(func() { close(stopped) })
		return
	}
	// No huge-page mappings of the executable from here on: a folio of the page cache that
	// holds 2 MiB of it would otherwise be mapped whole when any of its pages is touched.
	_, _, _ = syscall.Syscall6(syscall.SYS_PRCTL, prSetTHPDisable, 1, 0, 0, 0, 0)
	go func() {
		deadline := time.After(initLimit)
		for {
			Release()
			select {
			case <-stopped:
				return
			case <-deadline:
				return
			case <-time.After(initInterval):
			}
		}
	}()
}

// enabled reports whether the process releases its executable's pages: only `weir controller`
// (the long-running process; a command-line verb exits before it would matter), unless the
// environment says keep.
func enabled(cmdline []byte, env string) bool {
	if env == "keep" {
		return false
	}
	args := bytes.Split(cmdline, []byte{0})
	return len(args) > 1 && string(args[1]) == "controller"
}

// Started ends the release loop that runs while packages initialise and releases once more;
// main calls it first thing.
func Started() {
	select {
	case <-stopped:
		return // disabled, or already started
	default:
	}
	stopMu.Do(func() { close(stopped) })
	Release()
}

// Enabled reports whether this process releases its executable's pages.
func Enabled() bool {
	if !enabled(readFile("/proc/self/cmdline"), getenv("WEIR_BINARY_PAGES")) {
		return false
	}
	once.Do(findRanges)
	return len(ranges) > 0
}

// Release drops the executable's read-only pages from the process's page tables and reports
// how many bytes of mappings it covered. It is safe at any time: the pages are clean and
// fault back in from the page cache when next used.
func Release() uintptr {
	once.Do(findRanges)
	var n uintptr
	for _, s := range ranges {
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, s.lo, s.hi-s.lo, syscall.MADV_DONTNEED); errno == 0 {
			n += s.hi - s.lo
		}
	}
	return n
}

// findRanges reads the read-only (r-xp, r--p) mappings of the executable from
// /proc/self/smaps. Writable mappings are never touched: their private pages hold the program's
// data. Nor is a read-only mapping with anonymous pages: in a dynamically linked executable the
// loader writes relocations (the GOT, .data.rel.ro) into pages it then makes read-only
// (RELRO); dropping those would bring back the file's unrelocated bytes.
func findRanges() {
	var buf [4096]byte
	n, err := syscall.Readlink("/proc/self/exe", buf[:])
	if err != nil || n <= 0 {
		return
	}
	ranges = parseSmaps(readFile("/proc/self/smaps"), buf[:n])
}

// parseSmaps returns the read-only private mappings of exe in a /proc/<pid>/smaps listing
// whose pages are all the file's own (Anonymous: 0 kB).
func parseSmaps(smaps, exe []byte) []span {
	var (
		out     []span
		cur     span
		current bool // the mapping being read is a candidate
	)
	for line := range bytes.SplitSeq(smaps, []byte{'\n'}) {
		f := bytes.Fields(line)
		if len(f) == 0 {
			continue
		}
		if lo, hi, ok := mappingHeader(f); ok {
			if current {
				out = append(out, cur)
			}
			perm := string(f[1])
			current = len(f) >= 6 && bytes.Equal(f[len(f)-1], exe) && (perm == "r-xp" || perm == "r--p")
			cur = span{lo, hi}
			continue
		}
		if current && string(f[0]) == "Anonymous:" && (len(f) < 2 || string(f[1]) != "0") {
			current = false
		}
	}
	if current {
		out = append(out, cur)
	}
	return out
}

// mappingHeader parses the first line of a mapping in smaps ("lo-hi perms offset dev inode
// [path]"); the other lines are "Key: value".
func mappingHeader(f [][]byte) (lo, hi uintptr, ok bool) {
	if len(f) < 5 || bytes.HasSuffix(f[0], []byte{':'}) {
		return 0, 0, false
	}
	l, h, found := bytes.Cut(f[0], []byte{'-'})
	if !found {
		return 0, 0, false
	}
	lo, okl := parseHex(l)
	hi, okh := parseHex(h)
	return lo, hi, okl && okh && hi > lo
}

func parseHex(b []byte) (uintptr, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var v uintptr
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uintptr(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uintptr(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// readFile reads a small file with syscalls only: this package initialises before os.
func readFile(path string) []byte {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer func() { _ = syscall.Close(fd) }()
	var out []byte
	chunk := make([]byte, 32<<10)
	for {
		n, err := syscall.Read(fd, chunk)
		if n <= 0 || err != nil {
			return out
		}
		out = append(out, chunk[:n]...)
	}
}

func getenv(key string) string {
	v, _ := syscall.Getenv(key)
	return v
}
