package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// cpuTimes are the CPU seconds a process spent, and its waited-for children spent.
type cpuTimes struct {
	self, children float64
}

// readCPU reads utime+stime and cutime+cstime of pid from /proc/<pid>/stat.
func readCPU(pid int) (cpuTimes, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read cpu of %d: %w", pid, err)
	}
	// The command name is in parentheses and may contain spaces: fields count from the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return cpuTimes{}, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); utime, stime, cutime, cstime are fields 14 to 17.
	if len(f) < 15 {
		return cpuTimes{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	var v [4]float64
	for k := range v {
		n, err := strconv.ParseFloat(f[11+k], 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
		}
		v[k] = n / clockTicks
	}
	return cpuTimes{self: v[0] + v[1], children: v[2] + v[3]}, nil
}

// memory reads VmRSS and VmHWM (the peak resident set) of pid, in MiB.
func memory(pid int) (rss, hwm float64, err error) {
	m, err := readStatus(pid)
	return m.rss, m.hwm, err
}

// memStatus is the memory part of /proc/<pid>/status, in MiB. anon is RssAnon: heap, stacks
// and other private memory, without the pages of the mapped binary (RssFile).
type memStatus struct{ rss, hwm, anon, file float64 }

func readStatus(pid int) (m memStatus, err error) {
	rss, hwm, anon, file := &m.rss, &m.hwm, &m.anon, &m.file
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, fmt.Errorf("read memory of %d: %w", pid, err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		for _, k := range []struct {
			key string
			dst *float64
		}{{"VmRSS:", rss}, {"VmHWM:", hwm}, {"RssAnon:", anon}, {"RssFile:", file}} {
			if v, ok := strings.CutPrefix(line, k.key); ok {
				kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				if err != nil {
					return m, fmt.Errorf("parse %s of %d: %w", k.key, pid, err)
				}
				*k.dst = kb / 1024
			}
		}
	}
	return m, s.Err()
}

// childrenByName returns the pids of this process's children by command name (etcd,
// kube-apiserver, kube-controller-manager): the control plane the harness started.
func childrenByName() map[string]int {
	out := map[string]int{}
	self := os.Getpid()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(string(data[end+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid != self {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		out[string(data[open+1:end])] = pid
	}
	return out
}

// sampler follows one process's resident set while a workload runs.
type sampler struct {
	pid  int
	mu   sync.Mutex
	max  float64
	anon float64
	file float64
	sum  float64
	n    int
	done chan struct{}
	stop sync.Once
}

// sample starts sampling VmRSS of pid every interval until Stop.
func sample(pid int, interval time.Duration) *sampler {
	s := &sampler{pid: pid, done: make(chan struct{})}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if m, err := readStatus(pid); err == nil {
				s.mu.Lock()
				s.max = max(s.max, m.rss)
				s.anon = max(s.anon, m.anon)
				s.file = max(s.file, m.file)
				s.sum += m.rss
				s.n++
				s.mu.Unlock()
			}
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns the largest and the mean resident set seen, in MiB.
func (s *sampler) Stop() (peak, mean float64) {
	s.stop.Do(func() { close(s.done) })
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return 0, 0
	}
	return s.max, s.sum / float64(s.n)
}

// PeakAnon returns the largest RssAnon seen so far, in MiB.
func (s *sampler) PeakAnon() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.anon
}

// PeakFile returns the largest RssFile seen so far, in MiB.
func (s *sampler) PeakFile() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.file
}

// usage is a snapshot of the CPU consumed so far by weir, the harness's children (the Git
// server's CGI processes and kubectl) and each control-plane process.
type usage struct {
	at       time.Time
	weir     float64
	children float64
	plane    map[string]float64
}

func takeUsage(weirPid int, plane map[string]int) usage {
	u := usage{at: time.Now(), plane: map[string]float64{}}
	if weirPid > 0 {
		if c, err := readCPU(weirPid); err == nil {
			u.weir = c.self
		}
	}
	if c, err := readCPU(os.Getpid()); err == nil {
		u.children = c.children
	}
	for name, pid := range plane {
		if c, err := readCPU(pid); err == nil {
			u.plane[name] = c.self
		}
	}
	return u
}

// since returns the CPU seconds spent between u0 and u.
func (u usage) since(u0 usage) (weir, children float64, plane map[string]float64) {
	plane = map[string]float64{}
	for k, v := range u.plane {
		plane[k] = round(v-u0.plane[k], 2)
	}
	return round(u.weir-u0.weir, 2), round(u.children-u0.children, 2), plane
}
